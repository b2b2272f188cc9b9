/// Which consumer groups have expired, as Kafka's offsets.retention.minutes decides since 2.1:
/// a group with no members loses its committed offsets once the retention has passed since it
/// last had activity (its newest commit, or the time it became empty, whichever is later).
/// Groups with members never expire, and neither do protected groups (those the node itself
/// consumes as, such as `payment-service`). Pure: the caller gathers the facts and the time.
public enum GroupRetention {
    public struct Activity: Sendable, Hashable {
        public var groupId: String
        /// Members or member ids handed out: a live group.
        public var hasMembers: Bool
        /// The newest commit timestamp of any of its offsets, nil without offsets.
        public var newestCommitMilliseconds: Int64?
        /// When the coordinator last saw it become (or start) empty, nil if it never knew it.
        public var emptySinceMilliseconds: Int64?

        public init(groupId: String, hasMembers: Bool, newestCommitMilliseconds: Int64?, emptySinceMilliseconds: Int64?) {
            self.groupId = groupId
            self.hasMembers = hasMembers
            self.newestCommitMilliseconds = newestCommitMilliseconds
            self.emptySinceMilliseconds = emptySinceMilliseconds
        }

        /// The later of the two, or nil if neither is known (then the group is kept).
        public var lastActivityMilliseconds: Int64? {
            switch (newestCommitMilliseconds, emptySinceMilliseconds) {
            case (nil, nil): nil
            case (let commit?, nil): commit
            case (nil, let empty?): empty
            case (let commit?, let empty?): max(commit, empty)
            }
        }
    }

    /// True when `group` may be deleted at `now`.
    public static func isExpired(_ group: Activity, now: Int64, retentionMilliseconds: Int64, protected: Set<String>) -> Bool {
        guard !group.hasMembers, !protected.contains(group.groupId), let last = group.lastActivityMilliseconds else { return false }
        // Stored timestamps are the node's own, but a clock set far back or a damaged value must
        // not trap: overflow means "not expired".
        let (age, overflow) = now.subtractingReportingOverflow(last)
        return !overflow && age >= retentionMilliseconds
    }

    /// The expired groups among `groups`, in their order.
    public static func expired(_ groups: [Activity], now: Int64, retentionMilliseconds: Int64, protected: Set<String>) -> [String] {
        groups.filter { isExpired($0, now: now, retentionMilliseconds: retentionMilliseconds, protected: protected) }.map(\.groupId)
    }
}
