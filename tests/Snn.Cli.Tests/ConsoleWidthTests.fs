module Snn.Cli.Tests.ConsoleWidthTests

open Expecto
open Snn.Cli

[<Tests>]
let tests =
    testList
        "ConsoleWidth"
        [ testCase "COLUMNS counts only as a positive whole number"
          <| fun () ->
              for value, expected in
                  [ "120", Some 120
                    "1", Some 1
                    "", None
                    "0", None
                    "-5", None
                    "wide", None
                    "80.5", None ] do
                  Expect.equal (ConsoleWidth.requested value) expected $"COLUMNS = '{value}'"

          testCase "an unset COLUMNS asks for nothing"
          <| fun () -> Expect.isNone (ConsoleWidth.requested null) "null" ]
