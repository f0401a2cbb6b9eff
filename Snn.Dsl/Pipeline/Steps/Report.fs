/// The report of a run: results.json (BENCHMARKS.md's schema plus every evaluation row),
/// report.md and the PNG plots, all built from the records of the earlier steps.
module Snn.Dsl.Pipeline.Steps.Report

open System.IO
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting

type Parameters = { Plots: bool }

let defaults = { Plots = true }

/// Writes results.json, report.md and (with `plots`) the PNG plots into the run folder.
let write (ctx: StepContext) (plots: bool) =
    let results =
        Build.build ctx.Info ctx.Data.Facts ctx.Data.Identity ctx.Records ctx.SecondsSoFar

    Results.save (Path.Combine(ctx.Folder, "results.json")) results
    let files = if plots then Plots.writeAll ctx.Folder results else []
    let report = Markdown.save ctx.Folder results files
    ctx.Log $"report: {report}"

let definition: StepDefinition<Parameters> =
    { Name = "report"
      Parameters =
        Codec.record (fun p -> { Plots = p })
        |> Codec.fieldOr "plots" _.Plots Codec.bool true
      Label = fun _ -> "report"
      Problems = fun _ -> []
      Declare =
        fun _ s ->
            { Declare.none with
                ReadsRecords = true
                Problems =
                    [ if s.Recorded.IsEmpty then
                          "no earlier step records any figure: put report after the steps it reports (training, evaluate, qcfs)" ] }
      Run =
        fun p ctx ->
            match ctx.Data.Shard with
            | Some s ->
                ctx.Log $"report: shard {s} writes partial.json instead; snn merge writes results.json and report.md"
            | None -> write ctx p.Plots }

/// report.md, results.json and the plots.
let step = Step.create definition defaults
