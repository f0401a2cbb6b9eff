/// `snn run`: the default experiment (fmnistVgg on Fashion-MNIST, quick profile), a named
/// profile, or any experiment JSON; progress bars with ETA; resumes an interrupted run.
module Snn.Cli.RunCommand

open System
open Argu
open Spectre.Console
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting.Results

/// Options of `snn run`.
type RunArgs =
    | [<AltCommandLine("-p")>] Profile of name: string
    | [<AltCommandLine("-c")>] Config of path: string
    | [<AltCommandLine("-d")>] Data of path: string
    | Dataset of name: string
    | [<AltCommandLine("-o")>] Out of folder: string
    | Device of device: string
    | Shard of shard: string
    | Seeds of seeds: string
    | Plain

    interface IArgParserTemplate with
        member this.Usage =
            match this with
            | Profile _ ->
                "quick (default, under 10 min on 2 idle cores), bench (E = 10, F = 3), paper (E = 30, F = 10), tiny (a one-minute smoke test), or quick-distill / bench-distill (quick / bench with Phase I's fine-tune spent partly on distillQC: F = 0 + 1, F = 2 + 1)."
            | Config _ -> "an experiment JSON file (see docs/DSL.md) instead of a profile."
            | Data _ -> "dataset folder (else SNN_DATA, else the Debian package's folder)."
            | Dataset _ ->
                "run the experiment on another dataset: fashion-mnist, mnist, cifar10, cifar100 or imagenet (the network must fit its images and classes)."
            | Out _ -> "output folder (default: the experiment's, e.g. runs/quick)."
            | Device _ ->
                "cpu, cuda or cuda:N: where every step computes (overrides the experiment's \"device\"; default cpu)."
            | Shard _ ->
                "i/n (1 <= i <= n): evaluate only shard i of n of the test split and write partial.json; snn merge combines the shards (one seed: not with --seeds)."
            | Seeds _ ->
                "run the experiment once per seed, e.g. 0,1,2: each in <out>/seed-<k> (resumable), then summary.md and summary.json in <out> with the mean, standard deviation, min and max over seeds (each seed >= 0, none repeated)."
            | Plain -> "plain progress lines instead of live bars (automatic when output is redirected)."

/// Progress bars with ETA (Spectre.Console), inside one live progress display.
type private SpectreSink(ctx: ProgressContext) =
    interface IProgressSink with
        member _.Log message =
            AnsiConsole.MarkupLine(Markup.Escape message)

        member _.Start(name, total) =
            let task = ctx.AddTask(Markup.Escape name, true, float (max 1 total))

            { new IProgressTask with
                member _.Advance(steps, status) =
                    task.Increment(float steps)

                    if status <> "" then
                        task.Description <- Markup.Escape $"{name} {status}"

                member _.Finish() =
                    task.Value <- task.MaxValue
                    task.StopTask() }

/// The seeds of --seeds: comma-separated integers >= 0 ("0,1,2").
let parseSeeds (text: string) =
    let parts = text.Split(',') |> Array.map _.Trim()

    let parsed =
        parts
        |> Array.map (fun p ->
            match Int32.TryParse p with
            | true, k when k >= 0 -> Some k
            | _ -> None)

    if parts.Length = 0 || parsed |> Array.exists Option.isNone then
        raise (ArgumentException($"--seeds = '{text}': expected seeds >= 0 separated by commas, e.g. 0,1,2", "seeds"))

    parsed |> Array.choose id |> List.ofArray

let private experimentOf (args: ParseResults<RunArgs>) =
    let experiment =
        match args.TryGetResult Config with
        | Some path ->
            match Experiment.load path with
            | Ok e -> e
            | Error problems -> raise (Runner.ExperimentInvalidException problems)
        | None ->
            let name = args.GetResult(Profile, "quick").ToLowerInvariant()

            match Profiles.named |> List.tryFind (fun (n, _) -> n = name) with
            | Some(_, e) -> e
            | None ->
                let known = Profiles.named |> List.map fst |> String.concat ", "
                raise (ArgumentException($"--profile = {name} is not a profile: expected one of {known}", "profile"))

    let experiment =
        match args.TryGetResult Dataset with
        | None -> experiment
        | Some name ->
            match Data.tryParse name with
            | Ok d ->
                { experiment with
                    Data = { experiment.Data with Dataset = d } }
            | Error m -> raise (ArgumentException($"--dataset: {m}", "dataset"))

    let experiment =
        match args.TryGetResult Seeds with
        | None -> experiment
        | Some text -> Experiment.withSeeds (parseSeeds text) experiment

    match args.TryGetResult Device with
    | None -> experiment
    | Some d ->
        // Checked here, before anything is read or computed; the message names the package a GPU needs.
        try
            Snn.Core.Native.ComputeDevices.Resolve d |> ignore
        with :? ArgumentException as e ->
            raise (ArgumentException($"--device: {ErrorBoundary.argumentMessage e}", "device", e))

        { experiment with Device = d }

/// The shard of --shard; refused with seeds (--seeds or the experiment's "seeds") before any work:
/// snn merge combines the shards of one run, and a series over seeds is one run per seed.
let private shardOf (args: ParseResults<RunArgs>) (experiment: Experiment) =
    args.TryGetResult Shard
    |> Option.map (fun text ->
        let shard =
            match Pipeline.Shard.parse text with
            | Ok s -> s
            | Error m -> raise (ArgumentException($"--shard {m}", "shard"))

        if not experiment.Seeds.IsEmpty then
            let seeds =
                match args.TryGetResult Seeds with
                | Some given -> $"--seeds {given}"
                | None -> "the experiment's \"seeds\""

            raise (
                ArgumentException(
                    $"--shard {text} cannot be combined with {seeds}: a shard is a slice of one seed's run; shard each seed's run on its own (an experiment with \"seed\": k and no \"seeds\") and merge each",
                    "shard"
                )
            )

        shard)

let private f2 = Reporting.Format.twoDecimals "-"

/// The accuracy under `key` with its 95 % interval, "90.55 (89.96-91.11)"; the bare figure when
/// the results hold no interval for it (a run without a report step's statistics).
let withInterval (r: RunResults) (key: string) (accuracy: float) =
    let interval =
        if obj.ReferenceEquals(r.Statistics, null) || isNull r.Statistics.Accuracies then
            None
        else
            r.Statistics.Accuracies |> Array.tryFind (fun a -> a.Key = key)

    match interval with
    | Some a when not (Double.IsNaN accuracy) -> $"{f2 accuracy} ({f2 a.Low}-{f2 a.High})"
    | _ -> f2 accuracy

/// The dual-phase stages per T, with the QCFS SNN beside them.
let private dualPhaseTable (r: RunResults) =
    let table =
        Table().AddColumns("T", "QCFS", "direct", "Phase I", "+ potential", "+ weights", "dual-phase", "E_ANN/E_SNN")

    for d in r.DualPhase |> Array.sortBy (fun d -> d.T) do
        let q =
            r.Qcfs.Snn
            |> Array.tryFind (fun q -> q.T = d.T)
            |> Option.map (fun q -> withInterval r (Reporting.Accuracies.qcfsKey q.T) q.TestAccuracy)
            |> Option.defaultValue "-"

        let s = d.Snn

        let final =
            withInterval r (Reporting.Accuracies.dualPhaseKey d.T "snn.final") s.Final

        table.AddRow(
            string d.T,
            q,
            f2 s.Direct,
            f2 s.Phase1,
            f2 s.Potential,
            f2 s.Weights,
            $"[bold]{final}[/]",
            f2 d.EnergyRatio
        )
        |> ignore

    table

/// The QCFS SNN alone, for a pipeline without dual-phase networks.
let private qcfsTable (r: RunResults) =
    let table = Table().AddColumns("T", "QCFS SNN", "E_ANN/E_SNN")

    for q in r.Qcfs.Snn |> Array.sortBy _.T do
        table.AddRow(string q.T, withInterval r (Reporting.Accuracies.qcfsKey q.T) q.TestAccuracy, f2 q.EnergyRatio)
        |> ignore

    table

/// "in brackets: 95 % intervals (...); dual-phase vs QCFS, exact McNemar: T = 1 p = 3.1e-12, ...;
/// dual-phase vs the QC ANN it was converted from: T = 1 p = 0.45, ..."
let versusQcfsLine (s: RunStatistics) =
    let inv = "G2", Globalization.CultureInfo.InvariantCulture

    let p (c: PairedComparison) =
        if c.PValue > 0.0 then
            $"T = {c.T} p = {c.PValue.ToString(fst inv, snd inv)}"
        else
            $"T = {c.T} p = 1e{Math.Round c.Log10PValue}"

    let tests =
        if isNull s.VersusQcfs || s.VersusQcfs.Length = 0 then
            ""
        else
            let ps = s.VersusQcfs |> Array.sortBy _.T |> Array.map p |> String.concat ", "
            $"; dual-phase vs QCFS on the same images (exact McNemar, two-sided): {ps}"

    let source =
        if isNull s.VersusSource || s.VersusSource.Length = 0 then
            ""
        else
            let ps = s.VersusSource |> Array.sortBy _.T |> Array.map p |> String.concat ", "
            $"; dual-phase vs the QC ANN it was converted from: {ps}"

    if isNull s.Accuracies || s.Accuracies.Length = 0 then
        None
    else
        Some $"in brackets: {s.Confidence * 100.0:F0} %% intervals (Clopper-Pearson){tests}{source}"

/// "ReLU ANN 93.06%, ..." naming only the ANNs the pipeline trained or imported.
let private annLine (r: RunResults) =
    let annName =
        if not (isNull r.Imported) && r.Imported.Length > 0 then
            $"imported ANN ({Markup.Escape(IO.Path.GetFileName r.Imported[0].OnnxFile)})"
        else
            "ReLU ANN"

    [ if not (Double.IsNaN r.Ann.TestAccuracy) then
          $"{annName} {f2 r.Ann.TestAccuracy}%%"
      if not (Double.IsNaN r.ClipAnn.TestAccuracy) then
          $"Phase-I clip ANN {f2 r.ClipAnn.TestAccuracy}%%"
      if r.Qcfs.L > 0 then
          $"QCFS QC ANN (L={r.Qcfs.L}) {f2 r.Qcfs.AnnTestAccuracy}%%" ]
    |> String.concat ", "

/// Prints the summary table of a finished run.
let printSummary (r: RunResults) (folder: string) =
    let anns = annLine r

    if anns <> "" then
        AnsiConsole.MarkupLine $"{anns} (test accuracy)"

    match Reporting.QcfsSettling.note r with
    | "" -> ()
    | n -> AnsiConsole.MarkupLine(Markup.Escape $"QCFS: {n}")

    if r.DualPhase.Length > 0 then
        AnsiConsole.Write(dualPhaseTable r)
    elif r.Qcfs.Snn.Length > 0 then
        AnsiConsole.Write(qcfsTable r)

    if not (obj.ReferenceEquals(r.Statistics, null)) then
        match versusQcfsLine r.Statistics with
        | Some line -> AnsiConsole.MarkupLine(Markup.Escape line)
        | None -> ()

    let phaseTwoShare =
        if r.WallSeconds.Phase1 > 0.0 then
            $"; Phase II / Phase I wall time = {r.WallSeconds.Phase2 / r.WallSeconds.Phase1:F3}"
        else
            ""

    AnsiConsole.MarkupLine($"identity max |r - z - (v(0)-v(T))/T| = {r.IdentityMaxAbs:G3}{phaseTwoShare}")
    let report = IO.Path.Combine(folder, "report.md")
    AnsiConsole.MarkupLine($"report: {Markup.Escape report}")

/// Prints the mean ± standard deviation over seeds of the summary table.
/// The line on the QCFS network's first learned threshold over the seeds, with its rank
/// correlation with the QCFS SNN's accuracy at each T where defined (summary.md has every
/// layer); None without QCFS thresholds.
let qcfsThresholdLine (s: Reporting.Summary.SeedSummary) =
    s.QcfsThresholds
    |> Array.tryHead
    |> Option.map (fun t ->
        let defined =
            s.QcfsThresholdCorrelations
            |> Array.filter (fun c -> not (Double.IsNaN c.Spearman))

        let correlations = defined |> Array.map (fun c -> $"T = {c.T} %.2f{c.Spearman}")
        let pairs = defined |> Array.fold (fun m c -> max m c.Pairs) 0

        let ranked =
            if correlations.Length = 0 then
                ""
            else
                $"; Spearman rank correlation with the QCFS SNN's accuracy over %d{pairs} seeds: "
                + String.concat ", " correlations

        $"QCFS learned threshold of {t.Layer}: {f2 t.Mean} ± {f2 t.StandardDeviation} ({f2 t.Min}-{f2 t.Max}){ranked}")

let printSeedSummary (s: Reporting.Summary.SeedSummary) (folder: string) =
    let cell key =
        match s.Accuracies |> Array.tryFind (fun a -> a.Key = key) with
        | Some a when Double.IsNaN a.StandardDeviation -> f2 a.Mean
        | Some a -> $"{f2 a.Mean} ± {f2 a.StandardDeviation} ({f2 a.Min}-{f2 a.Max})"
        | None -> "-"

    let columns =
        Reporting.Accuracies.stageColumns |> List.map (fun (k, label, _) -> k, label)

    let table =
        Table().AddColumns(Array.ofList ("T" :: "QCFS" :: (columns |> List.map snd)))

    for t in Reporting.Summary.tableTimeSteps s do
        let stages =
            columns
            |> List.map (fun (k, _) -> cell (Reporting.Accuracies.dualPhaseKey t $"snn.{k}"))

        table.AddRow(Array.ofList (string t :: cell (Reporting.Accuracies.qcfsKey t) :: stages))
        |> ignore

    let seeds = s.Seeds |> Array.map string |> String.concat ", "

    AnsiConsole.MarkupLine(
        $"""over seeds {seeds} (mean ± SD, min-max): ReLU ANN {cell "ann.test_accuracy"}%%, QCFS QC ANN {cell "qcfs.ann_test_accuracy"}%% (test accuracy)"""
    )

    AnsiConsole.Write table
    qcfsThresholdLine s |> Option.iter (Markup.Escape >> AnsiConsole.MarkupLine)
    let summary = IO.Path.Combine(folder, "summary.md")
    AnsiConsole.MarkupLine($"summary: {Markup.Escape summary}")

/// Runs `work` with the progress display: live bars, or plain lines when asked or redirected.
let private withProgress (args: ParseResults<RunArgs>) (work: IProgressSink -> 'T) =
    if args.Contains Plain || Console.IsOutputRedirected then
        work (Interrupt.guard (ConsoleLines()))
    else
        AnsiConsole
            .Progress()
            .AutoClear(false)
            .Columns(
                TaskDescriptionColumn(),
                ProgressBarColumn(),
                PercentageColumn(),
                ElapsedTimeColumn(),
                RemainingTimeColumn(),
                SpinnerColumn()
            )
            .Start(fun ctx -> work (Interrupt.guard (SpectreSink ctx)))

/// `snn run`.
let run (args: ParseResults<RunArgs>) =
    let experiment = experimentOf args
    let shard = shardOf args experiment
    let folder = args.TryGetResult Out |> Option.defaultValue experiment.OutputFolder

    let options (sink: IProgressSink) : Runner.RunOptions =
        { OutputFolder = Some folder
          DataPath = args.TryGetResult Data
          Progress = sink }

    let profile = experiment.Profile.Name

    let seeds =
        match experiment.Seeds with
        | [] -> $"seed {experiment.Seed}"
        | ks -> ks |> List.map string |> String.concat ", " |> sprintf "seeds %s"

    AnsiConsole.MarkupLine(
        $"[bold]{Markup.Escape experiment.Name}[/], profile {Markup.Escape profile}, {seeds} -> {Markup.Escape folder}"
    )

    match shard with
    | Some s ->
        withProgress args (fun sink -> Runner.executeShard (options sink) (Some s) experiment)
        |> ignore

        AnsiConsole.MarkupLine(
            $"shard {s} done: {Markup.Escape(IO.Path.Combine(folder, Pipeline.Partial.FileName))}; combine the shards with snn merge <folders> --out <folder>"
        )
    | None when experiment.Seeds.IsEmpty ->
        let results = withProgress args (fun sink -> Runner.run (options sink) experiment)
        printSummary results folder
    | None ->
        let series = withProgress args (fun sink -> Seeds.run (options sink) experiment)
        printSeedSummary series.Summary series.Folder

    0
