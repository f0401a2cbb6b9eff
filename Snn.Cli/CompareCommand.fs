/// `snn compare`: two run folders (or two folders of runs over seeds) compared image by image on
/// the same test images, with exact McNemar tests (Snn.Dsl's Pipeline.Compare).
module Snn.Cli.CompareCommand

open System
open System.Globalization
open Argu
open Spectre.Console
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting

/// Options of `snn compare`.
type CompareArgs =
    | [<MainCommand; Mandatory>] Folders of folder: string list
    | Json of file: string

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Folders _ ->
                "two run folders of snn run or snn merge, baseline first (or two folders of snn run --seeds, paired by seed)."
            | Json _ -> "also write the comparisons as JSON to this file."

let private f2 = Format.twoDecimals "-"

let private signed (x: float) =
    if Double.IsNaN x then
        "-"
    else
        x.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture)

/// A t-test's p-value: two significant digits.
let private pOverSeeds (p: float) =
    if Double.IsNaN p then
        "-"
    else
        p.ToString("G2", CultureInfo.InvariantCulture)

/// One table of every comparison, a row per (seed,) network and T.
let private comparisonsTable (o: Compare.Outcome) =
    let series = o.Comparisons |> Array.exists _.Seed.IsSome

    let columns =
        [ if series then
              "seed"
          "network"
          "T"
          "A"
          "B"
          "B - A"
          "only A"
          "only B"
          "p" ]

    let table = Table().AddColumns(Array.ofList columns)

    for c in o.Comparisons do
        let t = c.Test

        [ if series then
              string c.Seed.Value
          c.Network
          string t.T
          f2 t.BaselineAccuracy
          f2 t.CandidateAccuracy
          signed (t.CandidateAccuracy - t.BaselineAccuracy)
          string t.BaselineOnly
          string t.CandidateOnly
          Markdown.pValue t ]
        |> List.map Markup.Escape
        |> Array.ofList
        |> table.AddRow
        |> ignore

    table

/// The means over seeds.
let private seedsTable (o: Compare.Outcome) =
    let table =
        Table().AddColumns("network", "T", "seeds", "mean A", "mean B", "mean B - A", "sd of B - A", "t", "p (t-test)")

    for d in o.OverSeeds do
        [| d.Network
           string d.T
           (d.Seeds |> Array.map string |> String.concat ", ")
           f2 d.MeanBaseline
           f2 d.MeanCandidate
           signed d.MeanDifference
           f2 d.DifferenceStandardDeviation
           f2 d.OverSeedsTest.Statistic
           pOverSeeds d.OverSeedsTest.PValue |]
        |> Array.map Markup.Escape
        |> table.AddRow
        |> ignore

    table

/// Refuses a --json file that could not be written, before anything is read.
let private checkJsonTarget (path: string) =
    let folder = IO.Path.GetDirectoryName(IO.Path.GetFullPath path)

    if IO.Directory.Exists path then
        raise (ArgumentException($"--json {path}: is a folder; expected a file to write", "json"))
    elif not (IO.Directory.Exists folder) then
        raise (ArgumentException($"--json {path}: its folder {folder} does not exist", "json"))

/// `snn compare`.
let run (args: ParseResults<CompareArgs>) =
    let folders = args.GetResult Folders

    match folders with
    | [ baseline; candidate ] ->
        let json = args.TryGetResult Json
        json |> Option.iter checkJsonTarget
        let outcome = Compare.runs baseline candidate

        let line (text: string) =
            AnsiConsole.MarkupLine(Markup.Escape text)

        line $"A: {outcome.Baseline}"
        line $"B: {outcome.Candidate}"

        line
            "test accuracy (%) on the same test images; only A / only B: images only that run's network classifies right; p: exact McNemar, two-sided"

        AnsiConsole.Write(comparisonsTable outcome)

        if outcome.OverSeeds.Length > 0 then
            line
                "over the seeds both ran (sd: sample standard deviation, n - 1; t and p: paired t-test of the differences, two-sided, n - 1 degrees of freedom)"

            AnsiConsole.Write(seedsTable outcome)

        for n in outcome.Notes do
            line $"not compared: {n}"

        json |> Option.iter (fun path -> Compare.save path outcome)
        0
    | _ ->
        raise (
            ArgumentException(
                $"snn compare: expected two run folders (baseline, then candidate), got {folders.Length}",
                "folders"
            )
        )
