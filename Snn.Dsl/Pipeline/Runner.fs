/// Runs an experiment: validates it (every problem at once, before any tensor exists), reads the
/// data and checks the network against it, says which steps are finished and which will run and
/// why, then runs the steps in the order written. Every step's record and every artifact it makes
/// are kept in the run folder, so running the same experiment again resumes and never redoes
/// finished work.
module Snn.Dsl.Pipeline.Runner

open System
open System.Diagnostics
open System.IO
open TorchSharp
open Snn.Dsl
open Snn.Dsl.Reporting

/// Options of a run that are not part of the experiment (they do not change its numbers).
type RunOptions =
    {
        /// Overrides the experiment's output folder.
        OutputFolder: string option
        /// Overrides the experiment's data path.
        DataPath: string option
        Progress: IProgressSink
    }

/// An experiment or pipeline that cannot run as it is; the message lists every problem.
type ExperimentInvalidException(problems: string list) =
    inherit ArgumentException("the experiment is not valid:\n  " + String.Join("\n  ", problems))
    member _.Problems = problems

let private invalid (problems: string list) =
    if not problems.IsEmpty then
        raise (ExperimentInvalidException problems)

/// The last layer's outputs of a spec (its class count).
let private outputs (spec: NetworkSpec) =
    match List.tryLast spec.Layers with
    | Some(Linear l) -> Some l.OutFeatures
    | _ -> None

/// What the dataset says against the experiment: input shape, classes, subset sizes, and each
/// step's needs now that the held-out split's size is known.
let private dataProblems (e: Experiment) (source: NetworkSource) (spec: NetworkSpec) (facts: DataFacts) =
    let name = facts.Dataset.Name

    [ if spec.Input <> facts.Input then
          $"network: the input is %O{spec.Input}, but %s{name} images are %O{facts.Input}"
      match outputs spec with
      | Some n when n <> facts.Classes ->
          $"network: the output layer has %d{n} outputs, but %s{name} has %d{facts.Classes} classes"
      | _ -> ()
      match e.Data.TrainImages with
      | Some n when n > facts.Train ->
          $"data.train_images = %d{n}, but the train split has %d{facts.Train} images (%d{facts.TrainingFiles} minus %d{facts.HeldOut} held out)"
      | _ -> ()
      match e.Data.TestImages with
      | Some n when n > facts.Test -> $"data.test_images = %d{n}, but the test split has %d{facts.Test} images"
      | _ -> () ]
    @ (Plan.problemsFrom source spec (Some facts) e.Pipeline |> List.map _.Message)

let private logData (sink: IProgressSink) (facts: DataFacts) =
    sink.Log $"data: {facts.Dataset.Name} from {facts.Folder}"

    let heldOut =
        if facts.HeldOutIsDefault then
            $"the default, min(5,000, 1/12 of {Format.thousands facts.TrainingFiles}); set data.held_out to change it"
        else
            "data.held_out"

    sink.Log
        $"data: {Format.thousands facts.TrainingFiles} training images: {Format.thousands facts.Train} to train on, the last {Format.thousands facts.HeldOut} held out for calibration and early stopping ({heldOut}); {Format.thousands facts.Test} test images, SNNs scored on {Format.thousands facts.SnnTest}"

/// The test images a shard evaluates.
let private logShard (sink: IProgressSink) (facts: DataFacts) (batch: int) (s: Shard) =
    let range count =
        let start, n = Shard.images s count batch
        $"[{start}, {start + n})"

    sink.Log
        $"shard {s}: test images {range facts.Test} of the ANN test set and {range facts.SnnTest} of the SNN test set"

/// Runs one planned step, or takes its record when an earlier run finished it.
let private runStep
    (folder: RunFolder)
    (store: ArtifactStore)
    (info: RunInfo)
    (data: RunData)
    (sink: IProgressSink)
    (records: Record list, seconds: float)
    (p: PlannedStep)
    =
    let path = Explain.recordPath folder p

    let record =
        if File.Exists path then
            match StepRecord.codec.Decode path (folder.ReadRecord path) with
            | Ok r ->
                for e in r.Artifacts do
                    store.Register e

                r
            | Error es -> raise (InvalidDataException($"{es.Head.Message}; delete {path} to recompute that step"))
        else
            let ctx = RunContext(p, info, data, sink, store, folder, records, seconds)
            let clock = Stopwatch.StartNew()
            p.Step.Run ctx

            for a, _, _ in p.Makes do
                if not (ctx.Made |> List.exists (fun e -> e.Artifact = a)) then
                    invalidOp $"step {p.Index} ({p.Step.Name}) declared it makes {a.Description} but did not store it"

            let r =
                { Identity = p.Identity
                  Index = p.Index
                  Name = p.Step.Name
                  Artifacts = ctx.Made
                  Records = ctx.StepRecords
                  Seconds = clock.Elapsed.TotalSeconds + ctx.Carried }

            folder.WriteRecord(path, StepRecord.codec.Encode r)
            r

    records @ record.Records, seconds + record.Seconds

/// What a run produced: its results, and every step's records in pipeline order.
type RunOutcome =
    { Results: Results.RunResults
      Records: Record list
      Folder: string }

/// Runs an experiment, or with a shard its slice of the test split (every ANN and SNN test
/// evaluation); returns its results (written by its report step, if it has one, and not for a
/// shard: a shard writes partial.json for `snn merge`) and records.
let executeShard (options: RunOptions) (shard: Shard option) (experiment: Experiment) : RunOutcome =
    match Experiment.validate experiment with
    | Error problems -> invalid problems
    | Ok _ -> ()

    match shard, experiment.Seeds with
    | _, [] -> ()
    | None, _ ->
        invalid
            [ "seeds: a run takes one seed; run an experiment with seeds through Seeds.run (snn run does), which runs each seed in its own folder" ]
    | Some s, _ ->
        invalid
            [ $"seeds: shard {s} is a slice of one seed's run and cannot run a series over seeds; shard each seed's run (\"seed\": k, no \"seeds\") on its own" ]

    // Before any file or tensor: a device this process cannot use fails here, naming the setting and
    // the package a GPU needs. Every step then computes there: the data's batches (RunData), the
    // networks the steps make (AnnTraining.compile, Fold, Convert follow their source) and the
    // artifacts loaded back (ArtifactStore).
    let device = Snn.Core.Native.ComputeDevices.Resolve experiment.Device

    let sink = options.Progress

    let source, spec =
        match Experiment.network experiment with
        | Ok network -> network
        | Error problems -> raise (ExperimentInvalidException problems)

    match source with
    | ImportedNetwork n ->
        sink.Log
            $"network: imported from {n.Source.File} (SHA-256 {n.Sha256.Substring(0, 16)}..., {n.Model.Producer}, {n.Model.Nodes} ONNX nodes -> {n.Model.Spec.Layers.Length} layers)"

        for w in n.Model.Warnings do
            sink.Log $"network: warning: {w}"
    | DeclaredNetwork -> ()

    // oneDNN computes the convolutions of x86 CPUs only.
    if
        device.``type`` = DeviceType.CPU
        && Runtime.InteropServices.RuntimeInformation.ProcessArchitecture = Runtime.InteropServices.Architecture.X64
    then
        for w in ChannelPadding.warnings spec do
            sink.Log $"network: warning: {w}"

    use folder = new RunFolder(defaultArg options.OutputFolder experiment.OutputFolder)
    torch.set_num_threads Environment.ProcessorCount
    torch.manual_seed (int64 experiment.Seed) |> ignore
    use data = new RunData(experiment.Data, options.DataPath, device, shard)
    data.Log <- sink.Log
    let facts = data.Facts
    logData sink facts
    invalid (dataProblems experiment source spec facts)
    folder.ClaimData(facts.Dataset.Name, facts.Folder, data.Identity)

    let root =
        Plan.rootIdentityFrom source experiment.Seed spec experiment.Data data.Identity

    // A shard's records hold the figures of its slice only: they get identities of their own.
    let planRoot =
        match shard with
        | None -> root
        | Some s ->
            Convert.ToHexString(Security.Cryptography.SHA256.HashData(Text.Encoding.UTF8.GetBytes($"{root} shard {s}")))

    shard |> Option.iter (logShard sink facts data.EvalBatch)

    let plan = Plan.buildFrom planRoot source spec (Some facts) experiment.Pipeline

    for line in Explain.lines folder plan (fun p -> File.Exists(Explain.recordPath folder p)) do
        sink.Log line

    folder.WriteText(
        "pipeline.json",
        (Plan.manifest plan).ToJsonString(Text.Json.JsonSerializerOptions(WriteIndented = true))
    )

    folder.WriteText("experiment.json", Experiment.toJson experiment)

    let info = Experiment.runInfo experiment source spec

    use store = new ArtifactStore(folder, device)

    let records, seconds =
        plan
        |> List.fold
            (fun acc p ->
                let next = runStep folder store info data sink acc p
                store.Release(Plan.neededAfter plan p.Index)
                next)
            ([], 0.0)

    shard
    |> Option.iter (fun s ->
        let partial =
            { Shard = s
              Root = root
              DataIdentity = data.Identity
              Experiment = info.Experiment
              Facts = facts
              Records = records
              Seconds = seconds }

        folder.WriteText(Partial.FileName, (Partial.codec.Encode partial).ToJsonString())

        sink.Log
            $"shard {s}: partial result in {Path.Combine(folder.Root, Partial.FileName)}; snn merge combines the shards")

    { Results = Build.build info facts data.Identity records seconds
      Records = records
      Folder = folder.Root }

/// Runs an experiment; returns its results (written by its report step, if it has one) and records.
let execute (options: RunOptions) (experiment: Experiment) : RunOutcome = executeShard options None experiment

/// Runs an experiment and returns its results (written by its report step, if it has one).
let run (options: RunOptions) (experiment: Experiment) : Results.RunResults = (execute options experiment).Results
