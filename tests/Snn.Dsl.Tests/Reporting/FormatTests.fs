module Snn.Dsl.Tests.Reporting.FormatTests

open System
open System.Globalization
open Expecto
open Snn.Dsl.Reporting
open Snn.Dsl.Tests.Common

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
              Expect.equal (Format.twoDecimals "-" Double.NaN) "-" "the terminal's mark"

          testCase "a count with a comma between thousands whatever the culture"
          <| fun () ->
              for culture in [ "de-DE"; "fr-FR"; "en-US" ] do
                  inCulture culture (fun () ->
                      Expect.equal (Format.thousands 55000) "55,000" culture
                      Expect.equal (Format.thousands 999) "999" $"{culture}: under a thousand"
                      Expect.equal (Format.thousands 1234567L) "1,234,567" $"{culture}: int64") ]
