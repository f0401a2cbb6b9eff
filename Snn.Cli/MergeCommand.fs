/// `snn merge`: the shards of a run (`snn run --shard i/n`) combined into the results.json,
/// report.md and plots of one run.
module Snn.Cli.MergeCommand

open Argu
open Spectre.Console
open Snn.Dsl.Pipeline

/// Options of `snn merge`.
type MergeArgs =
    | [<MainCommand; Mandatory>] Folders of folder: string list
    | [<Mandatory; AltCommandLine("-o")>] Out of folder: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Folders _ -> "the run folders of the shards 1/n .. n/n (each holds partial.json)."
            | Out _ -> "folder for the merged results.json, report.md and plots."

/// `snn merge`.
let run (args: ParseResults<MergeArgs>) =
    let folders = args.GetResult Folders
    let out = args.GetResult Out
    let results = Merge.merge folders out
    AnsiConsole.MarkupLine($"merged {folders.Length} shards into {Markup.Escape out}")
    RunCommand.printSummary results out
    0
