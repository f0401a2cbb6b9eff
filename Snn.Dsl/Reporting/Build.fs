/// results.json from the records of a run's steps: BENCHMARKS.md's schema (direct, phase1,
/// potential, weights, final per T) plus every evaluation row in pipeline order.
module Snn.Dsl.Reporting.Build

open System
open System.Reflection
open System.Text.Json
open System.Text.Json.Nodes
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting.Results

/// The commit named by an informational version "0.1.0+<sha>" (the first 12 hex digits), with
/// "-dirty" when the build marked uncommitted changes to tracked files ("+<sha>.dirty", see
/// Directory.Build.props); "unknown" without a revision.
let commitOf (informationalVersion: string) =
    match informationalVersion.Split '+' with
    | [| _; revision |] ->
        let dirty = revision.EndsWith ".dirty"

        let sha =
            if dirty then
                revision.Substring(0, revision.Length - 6)
            else
                revision

        if sha.Length >= 12 && sha |> Seq.forall System.Uri.IsHexDigit then
            sha.Substring(0, 12) + (if dirty then "-dirty" else "")
        else
            "unknown"
    | _ -> "unknown"

/// The commit this toolkit was built from (commitOf the assembly's informational version, which the
/// SDK writes); not the repository's HEAD when the run reports (a binary copied elsewhere keeps its own commit).
let buildCommit () =
    match typeof<RunResults>.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>() with
    | null -> "unknown"
    | a -> commitOf a.InformationalVersion

let private anns (records: Record list) =
    records
    |> List.choose (function
        | AnnTrained r -> Some r
        | _ -> None)

/// The name under which the importAnn step records its ImportedAnn (a custom record).
[<Literal>]
let ImportedRecord = "importAnn"

/// The name under which distillQC records, just before each QC ANN's AnnTrained record, the
/// label of that distillation (a custom record {"levels": L, "label": ...}).
[<Literal>]
let DistilledRecord = "distillQC"

/// The QC ANN at L after each step that trained it, in pipeline order: an AnnTrained record
/// right after a distillQC record for the same L is that distillation's.
let qcAnnStages (records: Record list) (levels: int) =
    let distilled (previous: Record option) =
        match previous with
        | Some(CustomRecord(DistilledRecord, (:? JsonObject as o))) when
            not (isNull o["levels"] || isNull o["label"])
            && o["levels"].GetValue<int>() = levels
            ->
            Some(o["label"].GetValue<string>())
        | _ -> None

    records
    |> List.fold
        (fun (previous, stages) r ->
            match r with
            | AnnTrained a when a.Ann = QcAnn levels ->
                let stage: QcAnnStage =
                    { Label = distilled previous |> Option.defaultValue "noisy-QC fine-tune"
                      TestAccuracy = a.TestAccuracy
                      HeldOutAccuracy = a.HeldOutAccuracy }

                Some r, stage :: stages
            | _ -> Some r, stages)
        (None, [])
    |> snd
    |> List.rev
    |> Array.ofList

/// The record of an imported ANN (as results.json writes it), or none when the ANN was trained.
let private imported (records: Record list) =
    records
    |> List.choose (function
        | CustomRecord(ImportedRecord, v) -> Some(JsonSerializer.Deserialize<ImportedAnn>(v, jsonOptions))
        | _ -> None)
    |> List.tryLast
    |> Option.toArray

let private annResult macs (r: AnnRecord option) =
    match r with
    | Some r ->
        { TestAccuracy = r.TestAccuracy
          HeldOutAccuracy = r.HeldOutAccuracy
          MacsPerImage = macs }
    | None ->
        { TestAccuracy = nan
          HeldOutAccuracy = nan
          MacsPerImage = macs }

let private renamed (stage: string) (layers: LayerErrors[]) =
    layers |> Array.map (fun l -> { l with Stage = stage })

let private renamedPotentials (stage: string) (hs: PotentialHistogram[]) =
    hs |> Array.map (fun h -> { h with Stage = stage })

/// A network evaluated again unchanged (a later evaluate, for another T's step) is one row: the last.
let private onceEach (rows: EvaluationRow list) =
    rows
    |> List.fold
        (fun kept r ->
            match kept with
            | last :: earlier when last.Lineage = r.Lineage && last.Probe = r.Probe -> r :: earlier
            | _ -> r :: kept)
        []
    |> List.rev

/// BENCHMARKS.md's stage columns read off a T's rows (in pipeline order).
let private entry (records: Record list) (direct: EvaluationRow list) (t: int) (rows: EvaluationRow list) =
    let accuracy (row: EvaluationRow option) =
        row |> Option.map _.Accuracy |> Option.defaultValue nan

    let since (r: EvaluationRow) = SpikingRuns.sinceConversion r.Lineage
    // A network scored at a T another network serves (evaluate's made_for) is shown as a stage only.
    let own = rows |> List.filter (fun r -> not (r.Probe && r.MadeFor <> Some r.T))
    let phase1 = own |> List.filter (fun r -> (since r).IsEmpty) |> List.tryLast

    let ablation ops =
        own |> List.filter (fun r -> since r = [ PhaseTwoPass ops ]) |> List.tryLast

    let final =
        own
        |> List.filter (fun r -> not (since r).IsEmpty && not r.Probe)
        |> List.tryLast

    let shown = final |> Option.orElse phase1 |> Option.orElse (List.tryLast own)

    let levels =
        match phase1 |> Option.orElse shown |> Option.map _.Source with
        | Some(QcAnn l) -> l
        | _ -> 0

    let qcStages = qcAnnStages records levels

    let qcAccuracy =
        qcStages
        |> Array.tryLast
        |> Option.map _.TestAccuracy
        |> Option.defaultValue nan

    let anatomy (stage: string) (r: EvaluationRow option) =
        r |> Option.map (fun r -> renamed stage r.Layers) |> Option.defaultValue [||]

    let potentials (stage: string) (r: EvaluationRow option) =
        r
        |> Option.map (fun r -> renamedPotentials stage r.Potentials)
        |> Option.defaultValue [||]

    let label (r: EvaluationRow) =
        match r.MadeFor with
        | Some m when m <> r.T -> $"{SpikingRuns.label r.Lineage} (made for T = {m})"
        | _ -> SpikingRuns.label r.Lineage

    { T = t
      FineTunedL = levels
      QcAnnTestAccuracy = qcAccuracy
      QcAnnStages = qcStages
      Snn =
        { Direct = direct |> List.filter (fun r -> r.T = t) |> List.tryLast |> accuracy
          Phase1 = accuracy phase1
          Potential = accuracy (ablation [ PotentialCalibration ])
          Weights = accuracy (ablation [ PotentialCalibration; WeightCalibration ])
          Final = accuracy final }
      Layers = Array.append (anatomy "phase1" phase1) (anatomy "final" final)
      Potentials = Array.append (potentials "phase1" phase1) (potentials "final" final)
      SopsPerImage = shown |> Option.map _.SopsPerImage |> Option.defaultValue nan
      FirstLayerMacsPerImage = shown |> Option.map _.FirstLayerMacsPerImage |> Option.defaultValue nan
      EnergyRatio = shown |> Option.map _.EnergyRatio |> Option.defaultValue nan
      CalibrationSeconds =
        records
        |> List.sumBy (function
            | PhaseTwoDone p when p.T = t -> p.Seconds
            | _ -> 0.0)
      Stages =
        rows
        |> List.map (fun r ->
            { Label = label r
              Accuracy = r.Accuracy
              Probe = r.Probe })
        |> Array.ofList }

let private qcfsResult (records: Record list) =
    match
        records
        |> List.choose (function
            | QcfsEvaluated q -> Some q
            | _ -> None)
        |> List.tryLast
    with
    | Some q ->
        { L = q.Levels
          AnnTestAccuracy = q.Ann.TestAccuracy
          Thresholds =
            q.Ann.Thresholds
            |> Array.map (fun x ->
                { Layer = x.Layer
                  Threshold = x.Threshold })
          Snn =
            q.Points
            |> Array.map (fun p ->
                { T = p.T
                  TestAccuracy = p.Accuracy
                  SopsPerImage = p.SopsPerImage
                  EnergyRatio = p.EnergyRatio
                  Layers = renamed $"qcfs-T{p.T}" p.Layers }) },
        q |> fun q -> q.Ann.Seconds + (q.Points |> Array.sumBy _.Seconds)
    | None ->
        { L = 0
          AnnTestAccuracy = nan
          Thresholds = [||]
          Snn = [||] },
        0.0

/// The measured figures of a run from its records, before the statistics.
let private measured
    (info: RunInfo)
    (facts: DataFacts)
    (dataIdentity: string)
    (records: Record list)
    (totalSeconds: float)
    =
    let macs =
        match Network.validate info.Spec with
        | Ok i -> Evaluation.annMacs i
        | Error _ -> nan

    let rows =
        records
        |> List.choose (function
            | SnnEvaluated r -> Some r
            | _ -> None)

    let direct = rows |> List.filter (fun r -> r.MadeFor.IsNone)
    let spiking = rows |> List.filter (fun r -> r.MadeFor.IsSome)

    let ts =
        spiking
        |> List.map _.T
        |> List.append (direct |> List.map _.T)
        |> List.distinct
        |> List.sort

    let dual =
        [| for t in ts -> entry records direct t (spiking |> List.filter (fun r -> r.T = t) |> onceEach) |]

    let qcfs, qcfsSeconds = qcfsResult records

    let lastAnn a =
        anns records |> List.filter (fun r -> r.Ann = a) |> List.tryLast

    let phaseTwo =
        records
        |> List.choose (function
            | PhaseTwoDone p -> Some p
            | _ -> None)

    let qcfsRows =
        records
        |> List.collect (function
            | QcfsEvaluated q -> List.ofArray q.Points
            | _ -> [])

    { Profile = info.Profile
      Seed = info.Seed
      Commit = buildCommit ()
      Experiment = JsonDocument.Parse(info.Experiment.ToJsonString()).RootElement.Clone()
      Data =
        { Dataset = facts.Dataset.Name
          Folder = facts.Folder
          Identity = dataIdentity }
      Splits =
        { Dataset = facts.Dataset.Name
          Train = facts.Train
          HeldOut = facts.HeldOut
          Test = facts.Test
          SnnTest = facts.SnnTest
          Calibration = phaseTwo |> List.map _.CalibrationImages |> List.fold max 0
          EarlyStopping = phaseTwo |> List.map _.EarlyStoppingImages |> List.fold max 0 }
      Ann = annResult macs (lastAnn ReluAnn)
      Imported = imported records
      ClipAnn = annResult macs (lastAnn ClipAnn)
      Qcfs = qcfs
      DualPhase = dual
      IdentityMaxAbs = rows @ qcfsRows |> List.map _.IdentityMaxAbs |> List.fold max 0.0
      WallSeconds =
        { Ann = lastAnn ReluAnn |> Option.map _.Seconds |> Option.defaultValue 0.0
          Phase1 =
            anns records
            |> List.filter (fun a ->
                match a.Ann with
                | ClipAnn
                | QcAnn _ -> true
                | _ -> false)
            |> List.sumBy _.Seconds
          Phase2 = phaseTwo |> List.sumBy _.Seconds
          Qcfs = qcfsSeconds
          Evaluation = rows |> List.sumBy _.Seconds
          Total = totalSeconds }
      Machine =
        $"{Runtime.InteropServices.RuntimeInformation.OSDescription}, {Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}"
      Cores = Environment.ProcessorCount
      Statistics = Unchecked.defaultof<RunStatistics> }

/// The results of a run from its records, with their statistics (confidence intervals, paired
/// tests). `totalSeconds` is the run's total (resumed parts included).
let build (info: RunInfo) (facts: DataFacts) (dataIdentity: string) (records: Record list) (totalSeconds: float) =
    let results = measured info facts dataIdentity records totalSeconds

    { results with
        Statistics = Statistics.ofRun records results }
