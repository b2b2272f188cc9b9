import NIOCore

/// IncrementalAlterConfigs (key 44), versions 0-1 (v1 flexible): what `kafka-configs.sh --alter`
/// and AdminClient.incrementalAlterConfigs send. Layout per Apache Kafka's
/// `IncrementalAlterConfigsRequest.json` / `IncrementalAlterConfigsResponse.json`.
public struct IncrementalAlterConfigsRequest: KafkaRequestBody, Hashable {
    public static var apiKey: KafkaAPIKey { .incrementalAlterConfigs }

    /// `AlterConfigOp.OpType`.
    public enum Operation: Int8, Sendable {
        case set = 0
        case delete = 1
        case append = 2
        case subtract = 3
    }

    public struct AlterableConfig: Sendable, Hashable {
        public var name: String
        /// An `Operation` code; kept raw so an unknown one is answered, not a decoding failure.
        public var configOperation: Int8
        public var value: String?

        public init(name: String, configOperation: Int8, value: String?) {
            self.name = name
            self.configOperation = configOperation
            self.value = value
        }
    }

    public struct Resource: Sendable, Hashable {
        public var resourceType: Int8
        public var resourceName: String
        public var configs: [AlterableConfig]

        public init(resourceType: Int8, resourceName: String, configs: [AlterableConfig]) {
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
            let configs = try b.readKafkaArray("resources.configs", flexible: flexible, minimumElementSize: 3) { (c: inout ByteBuffer) throws(KafkaCodecError) -> AlterableConfig in
                let config = AlterableConfig(name: try c.readKafkaString("configs.name", flexible: flexible),
                                             configOperation: try c.readKafkaInteger("configs.config_operation"),
                                             value: try c.readKafkaNullableString("configs.value", flexible: flexible))
                try c.skipKafkaTaggedFields("configs tagged fields", flexible: flexible)
                return config
            }
            try b.skipKafkaTaggedFields("resources tagged fields", flexible: flexible)
            return Resource(resourceType: type, resourceName: name, configs: configs)
        }
        let validateOnly = try buffer.readKafkaBool("validate_only")
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return IncrementalAlterConfigsRequest(resources: resources, validateOnly: validateOnly)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeKafkaArray(resources, flexible: flexible) { b, resource in
            b.writeKafkaInteger(resource.resourceType)
            b.writeKafkaString(resource.resourceName, flexible: flexible)
            b.writeKafkaArray(resource.configs, flexible: flexible) { c, config in
                c.writeKafkaString(config.name, flexible: flexible)
                c.writeKafkaInteger(config.configOperation)
                c.writeKafkaNullableString(config.value, flexible: flexible)
                c.writeKafkaEmptyTaggedFields(flexible: flexible)
            }
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaBool(validateOnly)
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}

public struct IncrementalAlterConfigsResponse: KafkaResponseBody, Hashable {
    public struct ResourceResponse: Sendable, Hashable {
        public var errorCode: Int16
        public var errorMessage: String?
        public var resourceType: Int8
        public var resourceName: String

        public init(errorCode: Int16 = 0, errorMessage: String? = nil, resourceType: Int8, resourceName: String) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.resourceType = resourceType
            self.resourceName = resourceName
        }
    }

    public var throttleTimeMs: Int32
    public var responses: [ResourceResponse]

    public init(throttleTimeMs: Int32 = 0, responses: [ResourceResponse]) {
        self.throttleTimeMs = throttleTimeMs
        self.responses = responses
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(KafkaCodecError) -> Self {
        try KafkaGroupWire.check(version, .incrementalAlterConfigs)
        return try decode(from: &buffer, flexible: KafkaAPIKey.incrementalAlterConfigs.isFlexible(version))
    }

    /// Shared with AlterConfigs, whose response has the same fields.
    static func decode(from buffer: inout ByteBuffer, flexible: Bool) throws(KafkaCodecError) -> Self {
        let throttle: Int32 = try buffer.readKafkaInteger("throttle_time_ms")
        let responses = try buffer.readKafkaArray("responses", flexible: flexible, minimumElementSize: 6) { (b: inout ByteBuffer) throws(KafkaCodecError) -> ResourceResponse in
            let response = ResourceResponse(errorCode: try b.readKafkaInteger("responses.error_code"),
                                            errorMessage: try b.readKafkaNullableString("responses.error_message", flexible: flexible),
                                            resourceType: try b.readKafkaInteger("responses.resource_type"),
                                            resourceName: try b.readKafkaString("responses.resource_name", flexible: flexible))
            try b.skipKafkaTaggedFields("responses tagged fields", flexible: flexible)
            return response
        }
        try buffer.skipKafkaTaggedFields("tagged fields", flexible: flexible)
        return IncrementalAlterConfigsResponse(throttleTimeMs: throttle, responses: responses)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        encode(into: &buffer, flexible: KafkaAPIKey.incrementalAlterConfigs.isFlexible(version))
    }

    func encode(into buffer: inout ByteBuffer, flexible: Bool) {
        buffer.writeKafkaInteger(throttleTimeMs)
        buffer.writeKafkaArray(responses, flexible: flexible) { b, response in
            b.writeKafkaInteger(response.errorCode)
            b.writeKafkaNullableString(response.errorMessage, flexible: flexible)
            b.writeKafkaInteger(response.resourceType)
            b.writeKafkaString(response.resourceName, flexible: flexible)
            b.writeKafkaEmptyTaggedFields(flexible: flexible)
        }
        buffer.writeKafkaEmptyTaggedFields(flexible: flexible)
    }
}
