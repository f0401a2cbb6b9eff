/// The summary of one experiment run once per seed: the mean and standard deviation over seeds of
/// every accuracy of the runs' results (summary.json and summary.md beside the seed-<k> folders).
module Snn.Dsl.Reporting.Summary

open System
open System.IO
open System.Text
open System.Text.Json
open Snn.Dsl.Reporting.Results

/// One accuracy over the seeds.
type SeedAccuracy =
    {
        /// Where it is in each run's results.json (Accuracies' keys).
        Key: string
        Label: string
        /// T of an SNN accuracy; 0 for an ANN.
        T: int
        /// Mean over the seeds that have the figure, %.
        Mean: float
        /// Sample standard deviation (n - 1 in the denominator) over those seeds; NaN for fewer than two.
        StandardDeviation: float
        /// Smallest and largest value over those seeds (NaN if none has it).
        Min: float
        Max: float
        /// Per seed, in the order of Seeds (NaN where a run did not produce it).
        Values: float[]
    }

/// One layer's learned threshold |theta| of the QCFS network over the seeds.
type SeedThreshold =
    {
        Layer: string
        /// Mean, sample standard deviation, smallest and largest over the seeds that have it.
        Mean: float
        StandardDeviation: float
        Min: float
        Max: float
        /// Per seed, in the order of Seeds (NaN where a run has no QCFS network).
        Values: float[]
    }

/// Over the seeds, how the QCFS SNN's accuracy at T follows the first layer's learned threshold:
/// the low-T readout of a network trained at L = 4 depends on where that threshold ends
/// (docs/EXPERIMENTS.md).
type ThresholdCorrelation =
    {
        T: int
        /// Seeds with both figures.
        Pairs: int
        /// Spearman's rank correlation (ties take their mean rank) in [-1, 1]; NaN for fewer than
        /// three seeds or when either figure is the same at every seed.
        Spearman: float
    }

type SeedSummary =
    {
        Seeds: int[]
        /// The run folder of each seed.
        Folders: string[]
        Dataset: string
        Profile: string
        Accuracies: SeedAccuracy[]
        /// The QCFS network's learned thresholds per layer, in network order (empty without QCFS).
        QcfsThresholds: SeedThreshold[]
        /// At each T of the QCFS SNN, its accuracy's rank correlation with the first threshold.
        QcfsThresholdCorrelations: ThresholdCorrelation[]
    }

/// Mean of the finite values (NaN if there are none).
let mean (xs: float[]) =
    let xs = xs |> Array.filter (fun x -> not (Double.IsNaN x))
    if xs.Length = 0 then nan else Array.average xs

/// Sample standard deviation of the finite values (n - 1 in the denominator; NaN for fewer than two).
let standardDeviation (xs: float[]) =
    let xs = xs |> Array.filter (fun x -> not (Double.IsNaN x))

    if xs.Length < 2 then
        nan
    else
        let m = Array.average xs
        sqrt ((xs |> Array.sumBy (fun x -> (x - m) * (x - m))) / float (xs.Length - 1))

/// Smallest and largest of the finite values (NaN, NaN if there are none).
let range (xs: float[]) =
    let xs = xs |> Array.filter (fun x -> not (Double.IsNaN x))

    if xs.Length = 0 then
        nan, nan
    else
        Array.min xs, Array.max xs

/// A one-sample t-test of differences against 0: over seeds, the paired t-test of two settings.
type TTest =
    {
        /// t = mean / (sd / sqrt n), with the sample sd (n - 1); +-infinity when every difference
        /// is the same non-zero value, 0 when every difference is 0.
        Statistic: float
        /// n - 1.
        DegreesOfFreedom: int
        /// Two-sided: 2 (1 - F(|t|)) with F Student's t CDF of n - 1 degrees of freedom.
        PValue: float
    }

/// The two-sided one-sample t-test of the mean of the finite `differences` against 0 (MathNet's
/// Student t distribution). Every field is NaN (degrees of freedom 0) for fewer than two values.
/// Seeds are few: with n = 3, |t| must exceed 4.30 for p < 0.05.
let tTest (differences: float[]) : TTest =
    let xs = differences |> Array.filter (fun x -> not (Double.IsNaN x))

    if xs.Length < 2 then
        { Statistic = nan
          DegreesOfFreedom = 0
          PValue = nan }
    else
        let m, sd = mean xs, standardDeviation xs
        let df = xs.Length - 1

        let t =
            if sd > 0.0 then m / (sd / sqrt (float xs.Length))
            elif m = 0.0 then 0.0
            else float (sign m) * infinity

        let p =
            if Double.IsInfinity t then
                0.0
            else
                2.0
                * (1.0 - MathNet.Numerics.Distributions.StudentT.CDF(0.0, 1.0, float df, abs t))

        { Statistic = t
          DegreesOfFreedom = df
          PValue = min 1.0 p }

/// The pairs (xs[k], ys[k]) whose values are both finite (not NaN): the seeds that have both figures.
let finitePairs (xs: float[]) (ys: float[]) =
    Array.zip xs ys
    |> Array.filter (fun (x, y) -> not (Double.IsNaN x || Double.IsNaN y))

/// The QCFS SNN's accuracies over the seeds, one per T, in the order the runs list them.
let qcfsAccuracies (accuracies: SeedAccuracy[]) =
    accuracies |> Array.filter (fun a -> a.Key.StartsWith "qcfs.snn[")

/// Spearman's rank correlation of the pairs whose values are both finite (MathNet: Pearson's
/// correlation of the mean ranks); NaN for fewer than three pairs or a constant side.
let spearman (xs: float[]) (ys: float[]) =
    let pairs = finitePairs xs ys

    let constant (vs: float[]) = Array.distinct vs |> Array.length < 2

    if
        pairs.Length < 3
        || constant (Array.map fst pairs)
        || constant (Array.map snd pairs)
    then
        nan
    else
        MathNet.Numerics.Statistics.Correlation.Spearman(Array.map fst pairs, Array.map snd pairs)

/// The QCFS thresholds of the runs per layer, in the order of the first run that has them.
let private qcfsThresholds (runs: RunResults list) =
    let thresholds (r: RunResults) =
        if isNull (box r.Qcfs) || isNull r.Qcfs.Thresholds then
            [||]
        else
            r.Qcfs.Thresholds

    runs
    |> List.collect (thresholds >> Array.map _.Layer >> List.ofArray)
    |> List.distinct
    |> List.map (fun layer ->
        let values =
            runs
            |> List.map (fun r ->
                thresholds r
                |> Array.tryFind (fun t -> t.Layer = layer)
                |> Option.map _.Threshold
                |> Option.defaultValue nan)
            |> Array.ofList

        { Layer = layer
          Mean = mean values
          StandardDeviation = standardDeviation values
          Min = fst (range values)
          Max = snd (range values)
          Values = values })
    |> Array.ofList

/// At every QCFS T of `accuracies`, the rank correlation of its values with the first layer's.
let private thresholdCorrelations (first: SeedThreshold option) (accuracies: SeedAccuracy[]) =
    match first with
    | None -> [||]
    | Some theta ->
        qcfsAccuracies accuracies
        |> Array.map (fun a ->
            { T = a.T
              Pairs = (finitePairs theta.Values a.Values).Length
              Spearman = spearman theta.Values a.Values })

/// The summary of runs (seed, folder, results), every accuracy in the order the first run lists it.
let ofRuns (runs: (int * string * RunResults) list) : SeedSummary =
    let perRun =
        runs
        |> List.map (fun (_, _, r) -> Accuracies.ofResults r |> List.map (fun a -> a.Key, a) |> Map.ofList)

    let keys =
        runs
        |> List.collect (fun (_, _, r) -> Accuracies.ofResults r)
        |> List.distinctBy _.Key

    let first =
        runs
        |> List.tryHead
        |> Option.map (fun (_, _, r) -> r.Splits.Dataset, r.Profile)
        |> Option.defaultValue ("", "")

    let accuracies =
        [| for a in keys ->
               let values =
                   perRun
                   |> List.map (fun m -> m |> Map.tryFind a.Key |> Option.map _.Accuracy |> Option.defaultValue nan)
                   |> Array.ofList

               { Key = a.Key
                 Label = a.Label
                 T = a.T
                 Mean = mean values
                 StandardDeviation = standardDeviation values
                 Min = fst (range values)
                 Max = snd (range values)
                 Values = values } |]

    let thresholds = qcfsThresholds (runs |> List.map (fun (_, _, r) -> r))

    { Seeds = runs |> List.map (fun (k, _, _) -> k) |> Array.ofList
      Folders = runs |> List.map (fun (_, f, _) -> f) |> Array.ofList
      Dataset = fst first
      Profile = snd first
      Accuracies = accuracies
      QcfsThresholds = thresholds
      QcfsThresholdCorrelations = thresholdCorrelations (Array.tryHead thresholds) accuracies }

/// Two decimals; "—" for a figure a run did not produce.
let private f2 = Format.twoDecimals "—"

/// "mean ± sd (min-max)" of the accuracy at `key`, or "—".
let private cell (s: SeedSummary) (key: string) =
    match s.Accuracies |> Array.tryFind (fun a -> a.Key = key) with
    | Some a when Double.IsNaN a.StandardDeviation -> f2 a.Mean
    | Some a -> $"{f2 a.Mean} ± {f2 a.StandardDeviation} ({f2 a.Min}-{f2 a.Max})"
    | None -> "—"

/// The rows of the summary table: every T at which the dual-phase SNN or the QCFS SNN was
/// scored, ascending (a QCFS-only experiment, or QCFS at T = 8, 16, 32 beside dual-phase at 1, 2,
/// 4, has rows too).
let tableTimeSteps (s: SeedSummary) =
    s.Accuracies
    |> Array.filter (fun a -> a.Key.StartsWith "dual_phase[" || a.Key.StartsWith "qcfs.snn[")
    |> Array.map _.T
    |> Array.distinct
    |> Array.sort

/// summary.md's section on the QCFS thresholds (nothing without QCFS): each layer's over the
/// seeds, and how the QCFS SNN's accuracy at each T ranks with the first layer's.
let private qcfsThresholdSection (line: string -> unit) (seedColumns: string) (plots: string list) (s: SeedSummary) =
    if s.QcfsThresholds.Length > 0 then
        line ""
        line "## QCFS learned thresholds"
        line ""

        line
            "The QCFS network's learned threshold |theta| per layer. Trained at L = 4 only, its SNN's accuracy at small T depends on where these end, most of all the first layer's (docs/EXPERIMENTS.md)."

        let correlations =
            s.QcfsThresholdCorrelations
            |> Array.filter (fun c -> not (Double.IsNaN c.Spearman))
            |> Array.map (fun c -> $"T = {c.T}: %.2f{c.Spearman} ({c.Pairs} seeds)")

        if correlations.Length > 0 then
            line ""

            line (
                "Spearman's rank correlation over the seeds between the first layer's threshold and the QCFS SNN's accuracy: "
                + String.concat ", " correlations
                + "."
            )

        line ""
        line $"| layer | mean | SD | min-max | {seedColumns} |"
        line ("|---|---:|---:|---:|" + String.replicate s.Seeds.Length "---:|")

        for t in s.QcfsThresholds do
            let values = t.Values |> Array.map f2 |> String.concat " | "
            line $"| {t.Layer} | {f2 t.Mean} | {f2 t.StandardDeviation} | {f2 t.Min}-{f2 t.Max} | {values} |"

        for p in plots do
            let name = Path.GetFileName p
            line ""
            line $"![{name}]({name})"

/// summary.md: the report's summary table as mean ± standard deviation, the QCFS thresholds with
/// `plots` (files beside summary.md) shown there, then every accuracy per seed.
let renderWith (plots: string list) (s: SeedSummary) =
    let sb = StringBuilder()
    let line (x: string) = sb.AppendLine x |> ignore
    let seeds = s.Seeds |> Array.map string |> String.concat ", "
    line $"# Summary over seeds {seeds}: {s.Dataset}, profile `{s.Profile}`"
    line ""

    line
        $"Mean ± sample standard deviation (n - 1), and in brackets the smallest and largest value, over {s.Seeds.Length} runs of the same experiment, one per seed, each a complete run in its own folder (seed-<k>/, whose report.md has that run's confidence intervals and paired tests). Every number below was measured by those runs."

    line ""

    for key, name in
        [ "ann.test_accuracy", "ReLU ANN"
          "clip_ann.test_accuracy", "Phase-I clip ANN"
          "qcfs.ann_test_accuracy", "QCFS QC ANN" ] do
        line $"- {name}: {cell s key}"

    line ""

    let ts = tableTimeSteps s

    let columns =
        Accuracies.stageColumns
        |> List.map (fun (name, label, _) -> $"snn.{name}", label)

    let header = columns |> List.map snd |> String.concat " | "
    line $"| T | QCFS SNN | {header} | QC ANN |"
    line ("|---:|---:|" + String.replicate columns.Length "---:|" + "---:|")

    for t in ts do
        let stages =
            columns
            |> List.map (fun (k, _) -> cell s (Accuracies.dualPhaseKey t k))
            |> String.concat " | "

        let qcAnn = cell s (Accuracies.dualPhaseKey t "qc_ann_test_accuracy")
        line $"| {t} | {cell s (Accuracies.qcfsKey t)} | {stages} | {qcAnn} |"

    let seedColumns = s.Seeds |> Array.map (fun k -> $"seed {k}") |> String.concat " | "
    qcfsThresholdSection line seedColumns plots s
    line ""
    line "## Every accuracy, per seed"
    line ""
    line $"| accuracy | T | mean | SD | min-max | {seedColumns} |"
    line ("|---|---:|---:|---:|---:|" + String.replicate s.Seeds.Length "---:|")

    for a in s.Accuracies do
        let values = a.Values |> Array.map f2 |> String.concat " | "
        let t = if a.T = 0 then "" else string a.T
        line $"| {a.Label} | {t} | {f2 a.Mean} | {f2 a.StandardDeviation} | {f2 a.Min}-{f2 a.Max} | {values} |"

    line ""
    line "Folders:"
    line ""

    for k, f in Array.zip s.Seeds s.Folders do
        line $"- seed {k}: {f}"

    sb.ToString()

/// summary.md without plots.
let render (s: SeedSummary) = renderWith [] s

/// Writes summary.json and summary.md (showing `plots`, already written into `folder`) into
/// `folder`; returns their paths.
let save (folder: string) (plots: string list) (s: SeedSummary) =
    let json = Path.Combine(folder, "summary.json")
    let md = Path.Combine(folder, "summary.md")
    Snn.Core.Checkpoints.AtomicFile.WriteAllText(json, JsonSerializer.Serialize(s, jsonOptions))
    Snn.Core.Checkpoints.AtomicFile.WriteAllText(md, renderWith plots s)
    json, md

/// Reads a summary.json written by `save`.
let load (path: string) : SeedSummary =
    JsonSerializer.Deserialize<SeedSummary>(File.ReadAllText path, jsonOptions)
