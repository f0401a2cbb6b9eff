/// `snn compare` (CompareCommand.fs): what it prints and writes for two runs, and its refusals
/// (exit code, an `snn:` message naming the argument or file, no stack trace).
module Snn.Cli.Tests.CompareCommandTests

open System.IO
open System.Text.Json.Nodes
open Expecto
open Snn.Cli
open Snn.Cli.Tests.Common
open Snn.Cli.Tests.FaultFixture

// Sequenced and slow: each case runs snn; they read the finished fixture run (FaultFixture).
[<Tests>]
let tests =
    testSequenced
    <| testList
        "slow"
        [ testList
              "CompareCommand"
              [ testCase "a run against a copy of itself: a table of every T, nothing discordant, and the JSON"
                <| fun () ->
                    use tmp = new TempFolder()
                    let copy = copyOfFinished tmp
                    let json = tmp.File "compare.json"
                    let r = runSnn [ "compare"; finishedRun.Value; copy; "--json"; json ]
                    Expect.equal r.ExitCode 0 $"exit code\n{r.Show}"
                    Expect.stringContains r.Stdout "dual-phase SNN" $"the table\n{r.Show}"
                    Expect.stringContains r.Stdout $"A: {finishedRun.Value}" $"names A by its path\n{r.Show}"
                    let o = JsonNode.Parse(File.ReadAllText json)
                    let comparisons = o["comparisons"].AsArray()
                    Expect.isNonEmpty comparisons "compared"

                    for c in comparisons do
                        Expect.equal (c["test"].["baseline_only"].GetValue<int>()) 0 "nothing only in A"
                        Expect.equal (c["test"].["candidate_only"].GetValue<int>()) 0 "nothing only in B"

                testCase "one folder, or three, is refused with exit 2 naming what is expected"
                <| fun () ->
                    for args in
                        [ [ finishedRun.Value ]
                          [ finishedRun.Value; finishedRun.Value; finishedRun.Value ] ] do
                        runSnn ("compare" :: args)
                        |> expectRefused ExitCode.Usage [ "expected two run folders" ]
                        |> ignore

                testCase "a folder that holds no run is refused with exit 2 naming it"
                <| fun () ->
                    use tmp = new TempFolder()
                    let missing = tmp.File "nothing"

                    runSnn [ "compare"; finishedRun.Value; missing ]
                    |> expectRefused ExitCode.Usage [ missing; "no such folder" ]
                    |> ignore

                    runSnn [ "compare"; tmp.Path; finishedRun.Value ]
                    |> expectRefused ExitCode.Usage [ tmp.Path; "holds no run" ]
                    |> ignore

                testCase "--json into a folder that does not exist is refused before anything is read"
                <| fun () ->
                    let target = "/no/such/folder/compare.json"

                    runSnn [ "compare"; finishedRun.Value; finishedRun.Value; "--json"; target ]
                    |> expectRefused ExitCode.Usage [ "--json"; target; "does not exist" ]
                    |> ignore

                testCase "a damaged step record is refused naming the file"
                <| fun () ->
                    use tmp = new TempFolder()
                    let copy = copyOfFinished tmp
                    let record = single copy "steps" "*-evaluate.json"
                    File.WriteAllText(record, "{")

                    runSnn [ "compare"; finishedRun.Value; copy ]
                    |> expectRefused ExitCode.InputOutput [ record; "damaged record" ]
                    |> ignore ] ]
