import Foundation
import LogStore
import Payments
import Testing
@testable import PaymentService

@Suite("API keys")
struct APIKeyTests {
    typealias Fixture = PaymentServiceTests.Fixture

    /// Deterministic bytes, to test the generator's shape (production passes the system CSPRNG).
    struct Counting: RandomNumberGenerator {
        var state: UInt64 = 0
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            return state
        }
    }

    @Test func generatedKeysHaveTheFormatAndParseBack() throws {
        var generator = SystemRandomNumberGenerator()
        let first = APIKey.generate(using: &generator)
        let second = APIKey.generate(using: &generator)
        #expect(first != second)
        #expect(first.text.hasPrefix("pk_") && first.text.utf8.count == 43)
        #expect(first.prefix.utf8.count == 12 && first.text.hasPrefix(first.prefix))
        #expect(APIKey(first.text) == first)
        #expect(APIKey.isPrefix(first.prefix))
        var counting = Counting()
        #expect(APIKey.generate(using: &counting).text.dropFirst(3).allSatisfy { $0.isLetter || $0.isNumber })
    }

    @Test func base62DrawsEveryCharacterOfItsAlphabetAndNothingElse() {
        let drawn = Base62.random(count: 10_000)
        #expect(drawn.count == 10_000)
        // 62 x (61/62)^10000: a character missing by chance is below 10^-60.
        #expect(Set(drawn) == Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8))
        #expect(Base62.random(count: 0).isEmpty)
        #expect(Base62.random(count: 32) != Base62.random(count: 32))
        #expect(!Base62.contains(UInt8(ascii: "-")) && !Base62.contains(UInt8(ascii: "_")) && Base62.contains(UInt8(ascii: "z")))
    }

    @Test func malformedTokensAreRejectedBeforeAnyLookup() {
        let valid = "pk_" + String(repeating: "a", count: 40)
        #expect(APIKey(valid) != nil)
        for bad in ["", "pk_", "sk_" + String(repeating: "a", count: 40), "pk_" + String(repeating: "a", count: 39),
                    "pk_" + String(repeating: "a", count: 41), "pk_" + String(repeating: "a", count: 39) + "-",
                    "pk_" + String(repeating: "é", count: 20), "pk_" + String(repeating: "a", count: 39) + "\u{0}"] {
            #expect(APIKey(bad) == nil, "\(bad)")
        }
    }

    @Test func bearerHeaderParsing() throws {
        let key = "pk_" + String(repeating: "Z", count: 40)
        #expect(try APIAccess.bearerToken("Bearer \(key)").get().text == key)
        #expect(try APIAccess.bearerToken("bearer   \(key)").get().text == key)
        #expect(try APIAccess.bearerToken("BEARER \(key)").get().text == key)
        #expect(APIAccess.bearerToken(nil) == .failure(.missing))
        #expect(APIAccess.bearerToken("Basic Zm9vOmJhcg==") == .failure(.malformed))
        #expect(APIAccess.bearerToken("Bearer") == .failure(.malformed))
        #expect(APIAccess.bearerToken("Bearer\(key)") == .failure(.malformed))
        #expect(APIAccess.bearerToken("Bearer \(key) extra") == .failure(.malformed))
        #expect(APIAccess.bearerToken("Bearer " + String(repeating: "x", count: 100_000)) == .failure(.malformed))
    }

    @Test func hashingIsKeyedAndComparedWhole() throws {
        var generator = SystemRandomNumberGenerator()
        let key = APIKey.generate(using: &generator)
        let hasher = APIKeyHasher(secret: Array(repeating: 7, count: 32))
        let other = APIKeyHasher(secret: Array(repeating: 8, count: 32))
        let stored = hasher.hexHash(key)
        #expect(stored.utf8.count == 64)
        #expect(!stored.contains(key.text.dropFirst(3)))
        #expect(hasher.matches(key, storedHex: stored))
        #expect(!other.matches(key, storedHex: stored))
        #expect(!hasher.matches(APIKey.generate(using: &generator), storedHex: stored))
        #expect(!hasher.matches(key, storedHex: String(stored.dropLast())))
        #expect(!hasher.matches(key, storedHex: "zz" + stored.dropFirst(2)))
        #expect(APIKeyHasher.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!APIKeyHasher.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!APIKeyHasher.constantTimeEqual([1, 2, 3], [1, 2]))
        // The pre-keyed HMAC is copied per hash: hashing twice gives the same, as a fresh key would.
        #expect(hasher.hash(key) == hasher.hash(key))
        #expect(hasher.matches(key, storedHash: try #require(APIKeyHasher.bytes(hex: stored))))
        #expect(!hasher.matches(key, storedHash: []))
    }

    static func record(_ scopes: [APIScope], merchant: String? = "m_a", expiresAt: Int64? = nil, revokedAt: Int64? = nil) -> APIKeyRecord {
        APIKeyRecord(prefix: "pk_abcdefghi", hash: "00", scopes: scopes, merchantId: merchant, createdAt: 0, expiresAt: expiresAt,
                     revokedAt: revokedAt)
    }

    @Test func authenticationDecisions() throws {
        #expect(APIAccess.authenticate(nil, hashMatches: false, nowMilliseconds: 10) == .failure(.unknown))
        #expect(APIAccess.authenticate(Self.record([.ordersWrite]), hashMatches: false, nowMilliseconds: 10) == .failure(.unknown))
        #expect(APIAccess.authenticate(Self.record([.ordersWrite], revokedAt: 5), hashMatches: true, nowMilliseconds: 10) == .failure(.revoked))
        #expect(APIAccess.authenticate(Self.record([.ordersWrite], expiresAt: 10), hashMatches: true, nowMilliseconds: 10) == .failure(.expired))
        let principal = try APIAccess.authenticate(Self.record([.ordersWrite], expiresAt: 11), hashMatches: true, nowMilliseconds: 10).get()
        #expect(principal.merchantScope == "m_a")
    }

    @Test func scopesAndMerchantBinding() throws {
        let writer = try APIAccess.authenticate(Self.record([.ordersWrite]), hashMatches: true, nowMilliseconds: 0).get()
        let reader = try APIAccess.authenticate(Self.record([.ordersRead]), hashMatches: true, nowMilliseconds: 0).get()
        let admin = try APIAccess.authenticate(Self.record([.admin], merchant: nil), hashMatches: true, nowMilliseconds: 0).get()
        #expect(APIAccess.authorize(writer, needs: .ordersWrite) == nil)
        #expect(APIAccess.authorize(writer, needs: .ordersRead) == nil)
        #expect(APIAccess.authorize(writer, needs: .admin) == .scope)
        #expect(APIAccess.authorize(reader, needs: .ordersWrite) == .scope)
        #expect(APIAccess.authorize(reader, needs: .ordersRead) == nil)
        #expect(APIAccess.authorize(admin, needs: .admin) == nil && APIAccess.authorize(admin, needs: .ordersWrite) == nil)
        #expect(writer.sees(merchant: "m_a") && !writer.sees(merchant: "m_b"))
        #expect(admin.merchantScope == nil && admin.sees(merchant: "m_b"))
        // A non-admin record without a merchant (never created so) sees nothing rather than all.
        let unbound = try APIAccess.authenticate(Self.record([.ordersRead], merchant: nil), hashMatches: true, nowMilliseconds: 0).get()
        #expect(unbound.merchantScope == "" && !unbound.sees(merchant: "m_a"))
        #expect(APIScope.parseList("orders:read, orders:write") == [.ordersRead, .ordersWrite])
        #expect(APIScope.parseList("orders:read,bogus") == nil && APIScope.parseList("") == nil)
    }

    @Test func creationRequestsAreChecked() throws {
        #expect(APIKeyStore.Request(scopes: [.ordersWrite], merchantId: nil).problem != nil)
        #expect(APIKeyStore.Request(scopes: [.admin], merchantId: "m_a").problem != nil)
        #expect(APIKeyStore.Request(scopes: [], merchantId: "m_a").problem != nil)
        #expect(APIKeyStore.Request(scopes: [.ordersWrite], merchantId: "m_a", rateLimit: -1).problem != nil)
        #expect(APIKeyStore.Request(scopes: [.ordersWrite], merchantId: "m_a").problem == nil)
        #expect(APIKeyStore.Request(scopes: [.admin], merchantId: nil).problem == nil)
    }

    @Test func storeKeepsOnlyTheHashAndRevokes() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let hasher = try await APIKeyStore.prepare(fixture.store)
        let created = try await APIKeyStore.create(.init(scopes: [.ordersRead], merchantId: "m_a", label: "ci"),
                                                   in: fixture.store, nowMilliseconds: 1000)
        let stored = try #require(try APIKeyStore.record(prefix: created.key.prefix, in: fixture.store))
        #expect(stored.hash != created.key.text && hasher.matches(created.key, storedHex: stored.hash))
        let raw = try fixture.store.read { try $0.table(APIKeyStore.table)?.get(Array(created.key.prefix.utf8)) }
        #expect(!String(decoding: try #require(raw), as: UTF8.self).contains(String(created.key.text.dropFirst(12))))
        // The secret is made once and kept.
        #expect(try await APIKeyStore.prepare(fixture.store).matches(created.key, storedHex: stored.hash))
        #expect(try APIKeyStore.list(in: fixture.store).map(\.prefix) == [created.key.prefix])
        #expect(try await APIKeyStore.revoke(prefix: created.key.prefix, in: fixture.store, nowMilliseconds: 2000))
        #expect(try APIKeyStore.record(prefix: created.key.prefix, in: fixture.store)?.revokedAt == 2000)
        #expect(try await !APIKeyStore.revoke(prefix: "pk_000000000", in: fixture.store, nowMilliseconds: 2000))
    }

    /// The per-request work without the service's cache (its worst case): parse the header,
    /// read the record in a fresh snapshot, decode it, HMAC and compare. Printed for
    /// docs/operations.md; the bound only catches a gross regression (debug build, 2 cores).
    @Test func authenticationCostsLittlePerRequest() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let hasher = try await APIKeyStore.prepare(fixture.store)
        let created = try await APIKeyStore.create(.init(scopes: [.ordersWrite], merchantId: "m_a"), in: fixture.store, nowMilliseconds: 0)
        let header = "Bearer \(created.key.text)"
        let rounds = 5000
        let clock = ContinuousClock()
        var allowed = 0
        let elapsed = try clock.measure {
            for _ in 0..<rounds {
                let key = try APIAccess.bearerToken(header).get()
                let record = try APIKeyStore.record(prefix: key.prefix, in: fixture.store)
                let matches = record.map { hasher.matches(key, storedHex: $0.hash) } ?? false
                if case .success = APIAccess.authenticate(record, hashMatches: matches, nowMilliseconds: 1) { allowed += 1 }
            }
        }
        let perRequest = Double(elapsed.components.attoseconds / 1_000_000_000_000 + elapsed.components.seconds * 1_000_000) / Double(rounds)
        print("API key check without cache: \(perRequest) µs per request")
        #expect(allowed == rounds)
        #expect(perRequest < 500)
        // With the record cached (the service's steady state) what is left is the HMAC and
        // the comparison.
        let key = created.key
        let record = try #require(try APIKeyStore.record(prefix: key.prefix, in: fixture.store))
        let stored = try #require(APIKeyHasher.bytes(hex: record.hash))
        var matched = 0
        let cachedElapsed = clock.measure {
            for _ in 0..<rounds where hasher.matches(key, storedHash: stored) { matched += 1 }
        }
        let perCachedRequest = Double(cachedElapsed.components.attoseconds / 1_000_000_000_000 + cachedElapsed.components.seconds * 1_000_000) / Double(rounds)
        print("API key check with the record cached: \(perCachedRequest) µs per request")
        #expect(matched == rounds && perCachedRequest < perRequest)
    }
}

@Suite("Token bucket")
struct TokenBucketTests {
    @Test func burstThenRefillAtTheRate() {
        var bucket = TokenBucket(rate: 2, burst: 3, now: 100)
        #expect(bucket.take(now: 100) == nil)
        #expect(bucket.take(now: 100) == nil)
        #expect(bucket.take(now: 100) == nil)
        #expect(bucket.take(now: 100) == 1)  // half a second to the next token: Retry-After 1
        #expect(bucket.take(now: 100.5) == nil)
        #expect(bucket.take(now: 100.5) != nil)
        #expect(bucket.isFull(now: 102) && !bucket.isFull(now: 100.6))
        var slow = TokenBucket(rate: 0.1, burst: 1, now: 0)
        #expect(slow.take(now: 0) == nil)
        #expect(slow.take(now: 0) == 10)
        #expect(slow.take(now: 4) == 6)
        #expect(slow.take(now: -50) != nil)  // a clock going backwards adds nothing
    }

    @Test func limiterIsPerKeyAndBounded() {
        var limiter = RateLimiter(maximumKeys: 3)
        let limit = RateLimiter.Limit(rate: 1, burst: 1)
        #expect(limiter.take("pk_a", limit: limit, now: 0) == nil)
        #expect(limiter.take("pk_a", limit: limit, now: 0) == 1)
        #expect(limiter.take("pk_b", limit: limit, now: 0) == nil)
        #expect(limiter.take("pk_unlimited", limit: .init(rate: 0, burst: 1), now: 0) == nil)
        #expect(limiter.count == 2)  // unlimited keys take no bucket
        for index in 0..<1000 { _ = limiter.take("pk_\(index)", limit: limit, now: 0) }
        #expect(limiter.count <= 3)
        // Emptied buckets survive a flood of new keys while refilled ones make room.
        var bounded = RateLimiter(maximumKeys: 2)
        #expect(bounded.take("pk_busy", limit: limit, now: 10) == nil)
        #expect(bounded.take("pk_idle", limit: limit, now: 0) == nil)
        #expect(bounded.take("pk_new", limit: limit, now: 10.5) == nil)  // pk_idle refilled by now: dropped
        #expect(bounded.take("pk_busy", limit: limit, now: 10.5) == 1)
    }
}

@Suite("Merchant-scoped orders")
struct MerchantScopeTests {
    typealias Fixture = PaymentServiceTests.Fixture

    func body(_ merchant: String) -> [UInt8] {
        Array(#"{"merchantId":"\#(merchant)","amount":100,"currency":"EUR","paymentMethod":"tok_visa","psp":"stripe"}"#.utf8)
    }

    @Test func ordersAreConfinedToTheirMerchant() async throws {
        let fixture = try await Fixture()
        defer { fixture.close() }
        let service = PaymentService(store: fixture.store, merchantScanBudget: 3)
        let refused = try await service.createOrder(body: body("m_b"), idempotencyKey: "x", traceparent: nil, merchant: "m_a")
        #expect(refused == .merchantForbidden)
        var idsA: [String] = []
        for index in 0..<2 {
            let created = try await service.createOrder(body: body("m_a"), idempotencyKey: "a\(index)", traceparent: nil, merchant: "m_a")
            let order = try #require(created.order, "\(created)")
            #expect(created.isCreated)
            idsA.append(try #require(JSONSerialization.jsonObject(with: Data(order.utf8)) as? [String: Any])["paymentOrderId"] as! String)
        }
        for index in 0..<5 { _ = try await service.createOrder(body: body("m_b"), idempotencyKey: "b\(index)", traceparent: nil) }
        #expect(try service.order(idsA[0], merchant: "m_a") != .notFound)
        #expect(try service.order(idsA[0], merchant: "m_b") == .notFound)
        #expect(try service.audit(idsA[0], merchant: "m_b") == .notFound)
        #expect(try service.audit(idsA[0], merchant: "m_a") != .notFound)
        // Pages look at 3 orders at most: follow the cursors until the end.
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let query = OrderListQuery(limit: 10, cursor: cursor.flatMap(PaymentOrderID.init))
            let page = try #require(JSONSerialization.jsonObject(with: Data(try service.listOrders(query, merchant: "m_a").utf8)) as? [String: Any])
            let orders = try #require(page["orders"] as? [[String: Any]])
            #expect(orders.allSatisfy { $0["merchantId"] as? String == "m_a" })
            seen += orders.compactMap { $0["paymentOrderId"] as? String }
            cursor = page["nextCursor"] as? String
            pages += 1
        } while cursor != nil && pages < 10
        #expect(Set(seen) == Set(idsA) && seen.count == 2 && pages >= 2)
        let all = try service.listOrders(OrderListQuery(limit: 100))
        #expect(all.components(separatedBy: "\"paymentOrderId\"").count - 1 == 7)
    }
}
