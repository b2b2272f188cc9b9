-- wrk script for the payment API: every request a new order (its own Idempotency-Key), one
-- request in flight per connection (wrk does not pipeline unless a script makes it). Counts the
-- answers by status so the benchmark script knows how many orders were created.
-- Arguments (after --): RUN_ID API_KEY
local threads = {}
local next_thread = 1

function setup(thread)
    thread:set("thread_number", next_thread)
    next_thread = next_thread + 1
    table.insert(threads, thread)
end

function init(args)
    run_id = args[1] or "wrk"
    api_key = args[2]
    counter = 0
    created = 0
    other = 0
    body = '{"merchantId":"m_1","amount":5000,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}'
end

function request()
    counter = counter + 1
    local headers = {
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = run_id .. "-" .. thread_number .. "-" .. counter,
    }
    if api_key and api_key ~= "" then headers["Authorization"] = "Bearer " .. api_key end
    return wrk.format("POST", "/v1/payment-orders", headers, body)
end

function response(status, headers, body)
    if status == 201 then created = created + 1 else other = other + 1 end
end

function done(summary, latency, requests)
    local total_created, total_other = 0, 0
    for _, thread in ipairs(threads) do
        total_created = total_created + thread:get("created")
        total_other = total_other + thread:get("other")
    end
    io.write(string.format("wrk-created %d\nwrk-other %d\n", total_created, total_other))
    io.write(string.format("wrk-latency-p50-ms %.2f\nwrk-latency-p99-ms %.2f\n",
        latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
