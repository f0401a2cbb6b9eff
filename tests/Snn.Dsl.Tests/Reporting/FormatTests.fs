module Snn.Dsl.Tests.Reporting.FormatTests

open System
open System.Globalization
open Expecto
open Snn.Dsl.Reporting

/// Runs `f` with the thread's culture set to `name`, then restores it.
let private inCulture (name: string) (f: unit -> 'a) =
    let before = CultureInfo.CurrentCulture
    CultureInfo.CurrentCulture <- CultureInfo.GetCultureInfo name

    try
        f ()
    finally
        CultureInfo.CurrentCulture <- before

[<Tests>]
let tests =
    testList
        "Format"
        [ testCase "two decimals, rounded, with a decimal point whatever the culture"
          <| fun () ->
              for culture in [ "de-DE"; "fr-FR"; "en-US" ] do
                  inCulture culture (fun () ->
                      Expect.equal (Format.twoDecimals "-" 92.176) "92.18" culture
                      Expect.equal (Format.twoDecimals "-" 1234.5) "1234.50" $"{culture}: no group separator"
                      Expect.equal (Format.twoDecimals "-" -0.004) "-0.00" $"{culture}: the sign kept")

          testCase "NaN (a figure the run did not produce) is written as the given mark"
          <| fun () ->
              Expect.equal (Format.twoDecimals "—" nan) "—" "the report's mark"
              Expect.equal (Format.twoDecimals "-" Double.NaN) "-" "the terminal's mark" ]
