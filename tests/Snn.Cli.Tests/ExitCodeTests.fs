module Snn.Cli.Tests.ExitCodeTests

open System.IO
open System.Text.RegularExpressions
open Expecto
open Snn.Cli
open Snn.Cli.Tests.Common

/// The codes of README's "Exit codes" table, in order.
let private readmeCodes () =
    let lines = File.ReadAllLines(Path.Combine(repoRoot, "README.md"))

    let section =
        lines
        |> Array.skipWhile (fun l -> l.Trim() <> "### Exit codes")
        |> Array.skip 1
        |> Array.takeWhile (fun l -> not (l.StartsWith "#"))

    section
    |> Array.choose (fun l ->
        let m = Regex.Match(l, @"^\|\s*(\d+)\s*\|")
        if m.Success then Some(int m.Groups[1].Value) else None)
    |> List.ofArray

[<Tests>]
let tests =
    testList
        "ExitCode"
        [ testCase "the codes are distinct and 0 is success"
          <| fun () ->
              let codes = ExitCode.all |> List.map fst
              Expect.equal (List.distinct codes) codes "no code twice"
              Expect.equal (List.head codes) 0 "success first"
              Expect.equal ExitCode.Success 0 "success is 0"

          testCase "README's Exit codes table lists exactly the codes snn uses, in order"
          <| fun () -> Expect.equal (readmeCodes ()) (ExitCode.all |> List.map fst) "README.md, ### Exit codes"

          testCase "the help text's footer names every code and its meaning"
          <| fun () ->
              for code, what in ExitCode.all do
                  Expect.stringContains ExitCode.helpFooter $"%3d{code}  {what}" $"code {code}"

          testCase "every line of the help footer fits 80 columns"
          <| fun () ->
              for line in ExitCode.helpFooter.Split('\n') do
                  Expect.isLessThanOrEqual line.Length 80 line ]
