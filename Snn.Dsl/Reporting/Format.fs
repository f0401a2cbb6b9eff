/// How the reports and the command line write a figure: in the invariant culture, so that a number
/// reads the same in report.md, summary.md, results.json and the terminal whatever the locale.
module Snn.Dsl.Reporting.Format

open System
open System.Globalization

/// `x` with two decimals ("92.18"), or `missing` where `x` is NaN (a figure the run did not produce).
let twoDecimals (missing: string) (x: float) =
    if Double.IsNaN x then
        missing
    else
        x.ToString("F2", CultureInfo.InvariantCulture)

/// A count with thousands separators ("55,000"), as the invariant culture writes it.
let thousands (n: #IFormattable) =
    n.ToString("N0", CultureInfo.InvariantCulture)
