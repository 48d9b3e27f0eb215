// Formatting: number formatting for the benchmark tables (thousands separators, sensible precision),
// written out by hand to keep the output identical everywhere.

/// Number formatting for the printed tables.
enum Formatting {
    /// `1234567.8` → `1,234,568`; values under 100 keep one or two decimals.
    static func rate(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if value < 10 { return fixed(value, decimals: 2) }
        if value < 100 { return fixed(value, decimals: 1) }
        return grouped(Int(value.rounded()))
    }

    /// `value` with exactly `decimals` decimals.
    static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "–" }
        var factor = 1.0
        for _ in 0..<decimals { factor *= 10 }
        let scaled = Int((abs(value) * factor).rounded())
        let whole = scaled / Int(factor)
        let fraction = scaled % Int(factor)
        var text = (value < 0 && scaled != 0 ? "-" : "") + grouped(whole)
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }

    /// `1234567` → `1,234,567`.
    static func grouped(_ value: Int) -> String {
        let digits = Array(String(abs(value)))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }
}
