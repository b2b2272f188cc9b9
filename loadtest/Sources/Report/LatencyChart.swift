import Foundation

/// An SVG chart of a run, written by hand (no plotting dependency): completions per second on
/// top, latency p50/p99/max per second below on a log scale, faults as vertical lines on both.
enum LatencyChart {
    static func svg(_ result: RunResult) -> String {
        let width = 960.0, panelHeight = 240.0, left = 70.0, right = 20.0, top = 44.0, gap = 60.0
        let plotWidth = width - left - right
        let samples = result.perSecond
        let firstSecond = Double(samples.first?.second ?? 0)
        let lastSecond = Double(max((samples.last?.second ?? 1), Int(firstSecond) + 1))
        func x(_ second: Double) -> Double { left + (second - firstSecond) / (lastSecond - firstSecond) * plotWidth }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(top + 2 * panelHeight + gap + 50))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="16" font-size="14">paynode loadtest (\(escape(result.mode))): \(Int(result.throughputPerSecond)) completed/s\(result.passed ? "" : " - FAILED")</text>
        <text x="\(left)" y="32">latency \(escape(result.latency.line))</text>

        """
        // Top panel: completions per second.
        let maxCompleted = Double(max(1, samples.map(\.completed).max() ?? 1))
        let topBase = top + panelHeight
        func yCompleted(_ value: Double) -> Double { topBase - value / maxCompleted * panelHeight }
        svg += axis(left: left, top: top, width: plotWidth, height: panelHeight)
        svg += "<text x=\"5\" y=\"\(top + 10)\">\(Int(maxCompleted))/s</text><text x=\"5\" y=\"\(topBase)\">0</text>\n"
        svg += "<text x=\"\(left + 5)\" y=\"\(top + 14)\" fill=\"#1f77b4\">completed per second</text>\n"
        svg += polyline(samples.map { (x(Double($0.second)), yCompleted(Double($0.completed))) }, color: "#1f77b4")

        // Bottom panel: latency on a log scale from 0.1 ms to the largest max.
        let bottomTop = topBase + gap
        let bottomBase = bottomTop + panelHeight
        let lowest = 0.1
        let highest = max(10.0, samples.map(\.maxMilliseconds).max() ?? 10)
        func yLatency(_ milliseconds: Double) -> Double {
            let value = log10(max(lowest, milliseconds)), low = log10(lowest), high = log10(highest)
            return bottomBase - (value - low) / (high - low) * panelHeight
        }
        svg += axis(left: left, top: bottomTop, width: plotWidth, height: panelHeight)
        var tick = lowest
        while tick <= highest * 1.001 {
            let y = yLatency(tick)
            svg += "<line x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#eee\"/>"
            svg += "<text x=\"5\" y=\"\(y + 4)\">\(tick < 1 ? String(format: "%.1f", tick) : String(Int(tick))) ms</text>\n"
            tick *= 10
        }
        let withData = samples.filter { $0.completed > 0 }
        for (name, color, value) in [("p50", "#2ca02c", \SecondSample.p50Milliseconds), ("p99", "#ff7f0e", \SecondSample.p99Milliseconds),
                                     ("max", "#d62728", \SecondSample.maxMilliseconds)] {
            svg += polyline(withData.map { (x(Double($0.second)), yLatency($0[keyPath: value])) }, color: color)
            let labelX = left + 5 + Double(["p50", "p99", "max"].firstIndex(of: name)!) * 60
            svg += "<text x=\"\(labelX)\" y=\"\(bottomTop + 14)\" fill=\"\(color)\">\(name)</text>\n"
        }
        // Faults.
        for fault in result.faults {
            let fx = x(fault.atSeconds)
            guard fx >= left, fx <= left + plotWidth else { continue }
            svg += "<line x1=\"\(fx)\" x2=\"\(fx)\" y1=\"\(top)\" y2=\"\(bottomBase)\" stroke=\"#9467bd\" stroke-dasharray=\"3,3\"><title>\(escape(fault.what))</title></line>\n"
        }
        // Time ticks every 10 s (every second on short runs).
        let step = lastSecond - firstSecond > 20 ? 10.0 : 1.0
        var second = (firstSecond / step).rounded(.up) * step
        while second <= lastSecond {
            svg += "<text x=\"\(x(second) - 6)\" y=\"\(bottomBase + 14)\">\(Int(second))</text>\n"
            second += step
        }
        svg += "<text x=\"\(left)\" y=\"\(bottomBase + 36)\">seconds since start (\(Int(firstSecond))-\(Int(lastSecond))); dashed: injected faults (kills, resets, blackholes)</text>\n"
        svg += "</svg>\n"
        return svg
    }

    private static func axis(left: Double, top: Double, width: Double, height: Double) -> String {
        "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width)\" height=\"\(height)\" fill=\"none\" stroke=\"#999\"/>\n"
    }

    private static func polyline(_ points: [(Double, Double)], color: String) -> String {
        guard !points.isEmpty else { return "" }
        let text = points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
        return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(text)\"/>\n"
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
