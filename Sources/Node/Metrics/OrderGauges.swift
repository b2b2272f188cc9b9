import PaymentService
import Payments
import Prometheus

/// `paynode_payment_orders{status}`: orders per status, read at scrape time from the counts
/// the service keeps in the same transactions that change an order's status.
struct OrderGauges: Sendable {
    let service: PaymentService
    let gauges: [PaymentStatus: Gauge]

    init(service: PaymentService, registry: PrometheusCollectorRegistry) {
        self.service = service
        self.gauges = Dictionary(uniqueKeysWithValues: PaymentStatus.allCases.map {
            ($0, registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: "paynode_payment_orders", unitName: "", helpText: "Payment orders by status."),
                labels: [("status", $0.rawValue)]))
        })
    }

    func refresh() throws {
        let counts = try service.ordersByStatus()
        for (status, gauge) in gauges { gauge.set(Double(counts[status] ?? 0)) }
    }
}
