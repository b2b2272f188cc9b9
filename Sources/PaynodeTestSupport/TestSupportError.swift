/// A test's helper could not do its part (a child that never got ready, a binary not built).
package struct TestSupportError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
