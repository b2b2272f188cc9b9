import NIOCore

/// AlterConfigs (key 33), versions 0-2 (v2 flexible): the legacy whole-set replacement that
/// older AdminClients, kafka-python's `alter_configs` and confluent-kafka's `alter_configs`
/// send. Every config of the resource not named goes back to its default. Layout per Apache
/// Kafka's `AlterConfigsRequest.json` / `AlterConfigsResponse.json`.
public struct AlterConfigsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .alterConfigs }

    public struct Config: Sendable, Hashable {
        public var name: String
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    public struct Resource: Sendable, Hashable {
        public var resourceType: Int8
        public var resourceName: String
        public var configs: [Config]

        public init(resourceType: Int8, resourceName: String, configs: [Config]) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configs = configs
        }
    }

    public var resources: [Resource]
    public var validateOnly: Bool

    public init(resources: [Resource], validateOnly: Bool = false) {
        self.resources = resources
        self.validateOnly = validateOnly
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, apiKey)
        let flexible = apiKey.isFlexible(version)
        let resources = try buffer.readKafkaArray("resources", flexible: flexible, minimumElementSize: 4) { (b: inout ByteBuffer) throws(KafkaCodecError) -> Resource in
            let type: Int8 = try b.readKafkaInteger("resources.resource_type")
            let name = try b.readKafkaString("resources.resource_name", flexible: flexible)
            let configs = try b.readKafkaArray("resources.configs", flexible: flexible, minimumElementSize: 2) { (c: inout ByteBuffer) throws(KafkaCodecError) -> Config in
                let config = Config(name: try c.readKafkaString("configs.name", flexible: flexible),
                                    value: try c.readKafkaNullableString("configs.value", flexible: flexible))
                try c.skipKafkaTaggedFields("configs tagged fields", flexible: flexible)
                return config
            }
            try b.skipKafkaTaggedFields("resources tagged fields", flexible: flexible)
            return Resource(resourceType: type, resourceName: name, configs: configs)
        }
        let validateOnly = try buffer.readKafkaBool("validate_only")
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return AlterConfigsRequest(resources: resources, validateOnly: validateOnly)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeKafkaArray(resources, flexible: flexible) { b, resource in
            b.writeKafkaInteger(resource.resourceType)
            b.writeKafkaString(resource.resourceName, flexible: flexible)
            b.writeKafkaArray(resource.configs, flexible: flexible) { c, config in
                c.writeKafkaString(config.name, flexible: flexible)
                c.writeKafkaNullableString(config.value, flexible: flexible)
                c.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaBool(validateOnly)
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

/// The same layout as IncrementalAlterConfigs' response; only the API key (and so the first
/// flexible version) differs.
public struct AlterConfigsResponse: KafkaResponseBody, Hashable {
    public typealias ResourceResponse = IncrementalAlterConfigsResponse.ResourceResponse

    public var throttleTimeMs: Int32
    public var responses: [ResourceResponse]

    public init(throttleTimeMs: Int32 = 0, responses: [ResourceResponse]) {
        self.throttleTimeMs = throttleTimeMs
        self.responses = responses
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .alterConfigs)
        let decoded = try IncrementalAlterConfigsResponse.decode(from: &buffer, flexible: KafkaAPIKey.alterConfigs.isFlexible(version))
        return AlterConfigsResponse(throttleTimeMs: decoded.throttleTimeMs, responses: decoded.responses)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        IncrementalAlterConfigsResponse(throttleTimeMs: throttleTimeMs, responses: responses)
            .encode(into: &buffer, flexible: KafkaAPIKey.alterConfigs.isFlexible(version))
    }
}
