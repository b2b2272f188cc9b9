import NIOCore

/// DescribeConfigs (key 32), versions 1-4 (v4 flexible). Layout per Apache Kafka's
/// `DescribeConfigsRequest.json` / `DescribeConfigsResponse.json`; v0 is gone from Kafka 4.
public struct DescribeConfigsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .describeConfigs }

    public struct Resource: Sendable, Hashable {
        /// `ConfigResource.Type`: 2 topic, 4 broker, 8 broker logger, 16 client metrics, 32 group.
        public var resourceType: Int8
        public var resourceName: String
        /// nil: every key.
        public var configurationKeys: [String]?

        public init(resourceType: Int8, resourceName: String, configurationKeys: [String]? = nil) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configurationKeys = configurationKeys
        }
    }

    public var resources: [Resource]
    public var includeSynonyms: Bool
    /// v3+.
    public var includeDocumentation: Bool

    public init(resources: [Resource], includeSynonyms: Bool = false, includeDocumentation: Bool = false) {
        self.resources = resources
        self.includeSynonyms = includeSynonyms
        self.includeDocumentation = includeDocumentation
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        let resources = try buffer.readKafkaArray("resources", flexible: flexible, minimumElementSize: 4) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Resource in
            let type: Int8 = try b.readKafkaInteger("resources.resource_type")
            let name = try b.readKafkaString("resources.resource_name", flexible: flexible)
            let keys = try b.readKafkaNullableArray("resources.configuration_keys", flexible: flexible, minimumElementSize: 1) {
                (k: inout ByteBuffer) throws(KafkaCodecError) -> String in try k.readKafkaString("configuration_keys", flexible: flexible)
            }
            try b.skipKafkaTaggedFields("resources tagged fields", flexible: flexible)
            return Resource(resourceType: type, resourceName: name, configurationKeys: keys)
        }
        let synonyms = try buffer.readKafkaBool("include_synonyms")
        let documentation = try version >= 3 ? buffer.readKafkaBool("include_documentation") : false
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DescribeConfigsRequest(resources: resources, includeSynonyms: synonyms, includeDocumentation: documentation)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeKafkaArray(resources, flexible: flexible) { b, resource in
            b.writeKafkaInteger(resource.resourceType)
            b.writeKafkaString(resource.resourceName, flexible: flexible)
            b.writeKafkaNullableArray(resource.configurationKeys, flexible: flexible) { $0.writeKafkaString($1, flexible: flexible) }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaBool(includeSynonyms)
        if version >= 3 { buffer.writeKafkaBool(includeDocumentation) }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

public struct DescribeConfigsResponse: KafkaResponseBody, Hashable {
    /// Where a value comes from (`DescribeConfigsResponse.ConfigSource`).
    public enum ConfigSource: Int8, Sendable {
        case unknown = 0
        case dynamicTopicConfig = 1
        case dynamicBrokerConfig = 2
        case dynamicDefaultBrokerConfig = 3
        case staticBrokerConfig = 4
        case defaultConfig = 5
    }

    /// The value's type (`ConfigEntry.ConfigType`), v3+.
    public enum ConfigType: Int8, Sendable {
        case unknown = 0
        case boolean = 1
        case string = 2
        case int = 3
        case short = 4
        case long = 5
        case double = 6
        case list = 7
        case `class` = 8
        case password = 9
    }

    public struct Synonym: Sendable, Hashable {
        public var name: String
        public var value: String?
        public var source: Int8

        public init(name: String, value: String?, source: Int8) {
            self.name = name
            self.value = value
            self.source = source
        }
    }

    public struct Entry: Sendable, Hashable {
        public var name: String
        public var value: String?
        public var readOnly: Bool
        public var configSource: Int8
        public var isSensitive: Bool
        public var synonyms: [Synonym]
        /// v3+.
        public var configType: Int8
        /// v3+.
        public var documentation: String?

        public init(name: String, value: String?, readOnly: Bool, configSource: Int8, isSensitive: Bool = false,
                    synonyms: [Synonym] = [], configType: Int8 = 0, documentation: String? = nil) {
            self.name = name
            self.value = value
            self.readOnly = readOnly
            self.configSource = configSource
            self.isSensitive = isSensitive
            self.synonyms = synonyms
            self.configType = configType
            self.documentation = documentation
        }
    }

    public struct Result: Sendable, Hashable {
        public var errorCode: Int16
        public var errorMessage: String?
        public var resourceType: Int8
        public var resourceName: String
        public var configs: [Entry]

        public init(errorCode: Int16 = 0, errorMessage: String? = nil, resourceType: Int8, resourceName: String, configs: [Entry] = []) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configs = configs
        }
    }

    public var throttleTimeMs: Int32
    public var results: [Result]

    public init(throttleTimeMs: Int32 = 0, results: [Result]) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .describeConfigs)
        let flexible = KafkaAPIKey.describeConfigs.isFlexible(version)
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let results = try buffer.readKafkaArray("results", flexible: flexible, minimumElementSize: 8) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Result in
            let errorCode: Int16 = try b.readKafkaInteger("results.error_code")
            let errorMessage = try b.readKafkaNullableString("results.error_message", flexible: flexible)
            let type: Int8 = try b.readKafkaInteger("results.resource_type")
            let name = try b.readKafkaString("results.resource_name", flexible: flexible)
            let configs = try b.readKafkaArray("results.configs", flexible: flexible, minimumElementSize: 6) { (c: inout ByteBuffer) throws(KafkaCodecError) -> Entry in
                let name = try c.readKafkaString("configs.name", flexible: flexible)
                let value = try c.readKafkaNullableString("configs.value", flexible: flexible)
                let readOnly = try c.readKafkaBool("configs.read_only")
                let source: Int8 = try c.readKafkaInteger("configs.config_source")
                let sensitive = try c.readKafkaBool("configs.is_sensitive")
                let synonyms = try c.readKafkaArray("configs.synonyms", flexible: flexible, minimumElementSize: 4) { (s: inout ByteBuffer) throws(KafkaCodecError) -> Synonym in
                    let synonym = Synonym(name: try s.readKafkaString("synonyms.name", flexible: flexible),
                                          value: try s.readKafkaNullableString("synonyms.value", flexible: flexible),
                                          source: try s.readKafkaInteger("synonyms.source"))
                    try s.skipKafkaTaggedFields("synonyms tagged fields", flexible: flexible)
                    return synonym
                }
                var entry = Entry(name: name, value: value, readOnly: readOnly, configSource: source, isSensitive: sensitive, synonyms: synonyms)
                if version >= 3 {
                    entry.configType = try c.readKafkaInteger("configs.config_type")
                    entry.documentation = try c.readKafkaNullableString("configs.documentation", flexible: flexible)
                }
                try c.skipKafkaTaggedFields("configs tagged fields", flexible: flexible)
                return entry
            }
            try b.skipKafkaTaggedFields("results tagged fields", flexible: flexible)
            return Result(errorCode: errorCode, errorMessage: errorMessage, resourceType: type, resourceName: name, configs: configs)
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return DescribeConfigsResponse(throttleTimeMs: throttle, results: results)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = KafkaAPIKey.describeConfigs.isFlexible(version)
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaArray(results, flexible: flexible) { b, result in
            b.writeKafkaInteger(result.errorCode)
            b.writeKafkaNullableString(result.errorMessage, flexible: flexible)
            b.writeKafkaInteger(result.resourceType)
            b.writeKafkaString(result.resourceName, flexible: flexible)
            b.writeKafkaArray(result.configs, flexible: flexible) { c, entry in
                c.writeKafkaString(entry.name, flexible: flexible)
                c.writeKafkaNullableString(entry.value, flexible: flexible)
                c.writeKafkaBool(entry.readOnly)
                c.writeKafkaInteger(entry.configSource)
                c.writeKafkaBool(entry.isSensitive)
                c.writeKafkaArray(entry.synonyms, flexible: flexible) { s, synonym in
                    s.writeKafkaString(synonym.name, flexible: flexible)
                    s.writeKafkaNullableString(synonym.value, flexible: flexible)
                    s.writeKafkaInteger(synonym.source)
                    s.writeKafkaEmptyTaggedFields(flexible: flexible)
                }
                if version >= 3 {
                    c.writeKafkaInteger(entry.configType)
                    c.writeKafkaNullableString(entry.documentation, flexible: flexible)
                }
                c.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
