/// An experiment run once per seed: each seed a normal, resumable run in <output>/seed-<k> (a
/// finished seed is skipped step by step by its records), then summary.json and summary.md in
/// <output> with the mean and standard deviation over seeds of every accuracy.
module Snn.Dsl.Pipeline.Seeds

open System.IO
open Snn.Dsl
open Snn.Dsl.Reporting

/// The run folder of seed `k` under `root`.
let folderOf (root: string) (k: int) = Path.Combine(root, $"seed-%d{k}")

/// Whether the experiment's (last) report step draws plots: the summary draws its own only then.
let private wantsPlots (experiment: Experiment) =
    experiment.Pipeline
    |> List.filter (fun s -> s.Name = Steps.Report.definition.Name)
    |> List.tryLast
    |> Option.exists (fun s ->
        match s.Json["plots"] with
        | null -> Steps.Report.defaults.Plots
        | v -> v.GetValue<bool>())

/// What a run over seeds produced.
type SeriesOutcome =
    {
        /// Each seed with its run's outcome, in the order of the experiment's seeds.
        Runs: (int * Runner.RunOutcome) list
        Summary: Summary.SeedSummary
        /// The folder holding the seed-<k> folders and the summary.
        Folder: string
    }

/// Runs `experiment` once per seed of experiment.Seeds (at least one), then writes the summary.
/// Every problem of the experiment is reported before any seed runs.
let run (options: Runner.RunOptions) (experiment: Experiment) : SeriesOutcome =
    match Experiment.validate experiment with
    | Error problems -> raise (Runner.ExperimentInvalidException problems)
    | Ok _ -> ()

    if experiment.Seeds.IsEmpty then
        raise (Runner.ExperimentInvalidException [ "seeds: expected at least one seed to run a series" ])

    let root = Path.GetFullPath(defaultArg options.OutputFolder experiment.OutputFolder)

    Directory.CreateDirectory root |> ignore
    Snn.Core.Checkpoints.AtomicFile.WriteAllText(Path.Combine(root, "experiment.json"), Experiment.toJson experiment)
    let count = experiment.Seeds.Length

    let runs =
        experiment.Seeds
        |> List.mapi (fun i k ->
            let folder = folderOf root k
            options.Progress.Log $"seed {k} ({i + 1} of {count}) -> {folder}"

            let outcome =
                Runner.execute
                    { options with
                        OutputFolder = Some folder }
                    { experiment with Seed = k; Seeds = [] }

            k, outcome)

    let summary = Summary.ofRuns [ for k, o in runs -> k, o.Folder, o.Results ]

    let plots =
        if wantsPlots experiment && SummaryPlot.applies summary then
            [ SummaryPlot.qcfsThresholdVsAccuracy root summary ]
        else
            []

    let json, md = Summary.save root plots summary
    options.Progress.Log $"summary over seeds: {md} and {json}"

    { Runs = runs
      Summary = summary
      Folder = root }
