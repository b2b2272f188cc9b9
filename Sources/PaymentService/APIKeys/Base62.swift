/// Base62 text (0-9, A-Z, a-z: nothing a header, URL, file or shell needs escaped), drawn
/// without bias from a random number generator: API keys, and `paynode dev`'s SASL passwords.
public enum Base62 {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `count` characters from `generator`: give it a CSPRNG. Bytes of 248 (4 x 62) and above
    /// are dropped so every character is equally likely.
    public static func random(count: Int, using generator: inout some RandomNumberGenerator) -> [UInt8] {
        var characters: [UInt8] = []
        characters.reserveCapacity(count)
        while characters.count < count {
            let byte = UInt8.random(in: 0...255, using: &generator)
            guard byte < 248 else { continue }
            characters.append(alphabet[Int(byte % 62)])
        }
        return characters
    }

    /// `count` characters from the system CSPRNG (`SystemRandomNumberGenerator` reads the
    /// kernel's getrandom).
    public static func random(count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return random(count: count, using: &generator)
    }

    public static func contains(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }
}
