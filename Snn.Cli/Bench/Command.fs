/// `snn bench`: the speed figures of BENCHMARKS.md measured side by side in one run on
/// fmnist-vgg, printed and written to bench.json. Every measurement runs in a child process
/// (`snn bench --only <part>`) so that each gets its own peak working set (VmHWM).
module Snn.Cli.Bench.Command

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open Argu
open Snn.Cli.Bench.Args
open Snn.Cli.Bench.Measure
open Snn.Cli.Bench.Child
open Snn.Cli.Bench.Figures
open Snn.Cli.Bench.Report

/// The simulation figures at every T, each merged over --sim-processes children; a table row each.
let private measureSims (plan: Plan) =
    [ for t in timeSteps do
          let s =
              mergeSims [ for _ in 1 .. plan.SimProcesses -> runChild plan [ "--only"; "sim"; "--T"; string t ] ]

          printSim s
          s ]

/// phase2_share: recorded by a pipeline run at `resultsPath`, else estimated by `--only phase2`.
let private phase2Share (plan: Plan) (resultsPath: string) =
    match phase2Recorded resultsPath with
    | Some((share, p1, p2), source) ->
        printPhase2Recorded share source p1 p2

        { Share = share
          Node =
            JsonObject(
                dict
                    [ "source", JsonValue.Create source :> JsonNode
                      "phase1_seconds", JsonValue.Create p1
                      "phase2_seconds", JsonValue.Create p2 ]
            )
          Peak = None }
    | None ->
        let p = runChild plan [ "--only"; "phase2" ]
        printPhase2Estimate p resultsPath
        p["source"] <- JsonValue.Create "estimate"

        { Share = num p "share"
          Node = p
          Peak = Some(num p "peak_working_set_mb") }

/// The whole bench: every measurement in its child, the report, bench.json and the targets.
let private measureAll (plan: Plan) (args: ParseResults<BenchArgs>) =
    let clock = Stopwatch.StartNew()
    let cores = Environment.ProcessorCount
    printHeader plan cores
    let sims = measureSims plan
    let peak = runChild plan [ "--only"; "simpeak"; "--T"; "32" ]
    printSimPeak peak
    printfn ""
    let train = runChild plan [ "--only"; "train" ]
    printTrain train
    printfn ""

    let phase2 =
        phase2Share plan (args.GetResult(Results, Path.Combine("runs", "bench", "results.json")))

    let out = args.GetResult(Output, "bench.json")
    writeJson out plan cores sims peak train phase2 clock.Elapsed.TotalSeconds
    printfn ""

    printTargets (Targets.all sims train phase2.Share (num peak "peak_working_set_mb"))
    printfn "wrote %s (%.0f s)" out clock.Elapsed.TotalSeconds
    0

/// `snn bench`; with the internal --only, one measurement in this process.
let run (args: ParseResults<BenchArgs>) =
    let plan = planOf args

    match args.TryGetResult Only with
    | Some part ->
        let reportTo =
            match args.TryGetResult Report_To with
            | Some p -> p
            | None ->
                raise (ArgumentException("--only needs --report-to: the file that receives the JSON", "report-to"))

        childMeasurement plan part (args.GetResult(Time_Steps, 1)) reportTo
    | None when args.Contains Scale -> Snn.Cli.Bench.Scale.run plan (args.GetResult(Output, "bench.json"))
    | None -> measureAll plan args
