/// What the steps that work on spiking networks share: the layer context of Phase II, lineage
/// labels, and evaluation rows with their energy figures.
module Snn.Dsl.Pipeline.SpikingRuns

open System.Diagnostics
open Snn.Core.Energy
open Snn.Core.Simulation
open Snn.Dsl

/// What was done to a spiking network since conversion: its lineage without the entries that
/// describe its source ANN (`SourceTuned`).
let sinceConversion (lineage: LineageEntry list) =
    lineage
    |> List.filter (function
        | SourceTuned _ -> false
        | _ -> true)

/// How reports name what was done to a spiking network since conversion: "phase1" when nothing
/// was (followed by " + label" for each training its source ANN had beyond its step, e.g.
/// "phase1 + distillQC (...)"), else the steps since conversion.
let label (lineage: LineageEntry list) =
    let operation =
        function
        | PotentialCalibration -> "potential"
        | WeightCalibration -> "weights"
        | CustomLayerOperation n -> n

    match sinceConversion lineage with
    | [] ->
        "phase1"
        :: (lineage
            |> List.choose (function
                | SourceTuned l -> Some l
                | _ -> None))
        |> String.concat " + "
    | entries ->
        entries
        |> List.map (function
            | PhaseTwoPass ops -> $"""Phase II ({ops |> List.map operation |> String.concat ", "})"""
            | StepApplied l -> l
            | SourceTuned l -> l)
        |> String.concat " + "

/// The descriptor of the spiking network for T.
let info (ctx: StepContext) (t: int) =
    match ctx.Descriptor(Spiking t) with
    | SpikingDescriptor i -> i
    | _ -> invalidOp $"the spiking network for T = {t} has no spiking descriptor"

/// The T of every spiking network present, ascending.
let timeSteps (ctx: StepContext) =
    ctx.Artifacts
    |> List.choose (function
        | Spiking t -> Some t
        | _ -> None)
    |> List.sort

/// Phase II's view of the spiking network `snn` for T (targets from its source QC ANN).
let layerContext (ctx: StepContext) (t: int) (snn: SpikingNetwork) (log: string -> unit) =
    let source = ctx.Ann (info ctx t).Source
    source.eval ()

    { Network = snn
      AnnActivations = Convert.annActivations source
      TimeSteps = t
      Data = ctx.Data
      Log = log }

/// Needs of a step that calibrates every spiking network: each network and its source ANN.
let calibrationNeeds (s: PlanState) =
    Declare.spikingNetworks s
    |> List.collect (fun (t, i) -> [ Spiking t; Network i.Source ])

/// Problems of calibrating spiking networks against their source ANNs: a source ANN that a step
/// replaced after the network was converted (e.g. distillQC after convert) no longer gives the
/// network's targets.
let staleSources (s: PlanState) =
    [ for t, i in Declare.spikingNetworks s do
          match s.MadeBy.TryFind(Spiking t), s.MadeBy.TryFind(Network i.Source) with
          | Some converted, Some replaced when replaced > converted ->
              $"the spiking network for T = %d{t} was converted from %s{i.Source.Description} before step %d{replaced} replaced that ANN, and calibration needs the ANN it was converted from: add convert after step %d{replaced}"
          | _ -> () ]

/// The declaration of a step (`name`) that runs `steps` layer by layer on every spiking network
/// and records figures; `makes` gives what it makes from the networks present.
let declareLayerSteps
    name
    (steps: ILayerStep list)
    (s: PlanState)
    (makes: (int * SpikingInfo) list -> (Artifact * Descriptor) list)
    =
    match Declare.spikingNetworks s with
    | [] -> Declare.fromProblems [ $"needs a spiking network: add convert before %s{name}" ]
    | nets ->
        { Declare.none with
            Needs = calibrationNeeds s
            Makes = makes nets
            Records = true
            Problems =
                staleSources s
                @ LayerStep.heldOutProblems steps (s.Data |> Option.map _.HeldOut) }

/// A row's figures from its tally: how an evaluation makes its rows, and how `snn merge`
/// remakes a row from the tallies of its shards.
let withTally (row: EvaluationRow) (tally: EvaluationTally) =
    let e = Evaluation.finish tally

    { row with
        T = tally.T
        Images = int tally.Seen
        Accuracy = e.Accuracy
        Layers = e.Layers
        Potentials = e.Potentials
        SopsPerImage = e.SopsPerImage
        FirstLayerMacsPerImage = e.FirstLayerMacsPerImage
        EnergyRatio = EnergyModel.Default.Ratio(tally.Macs, e.SopsPerImage, e.FirstLayerMacsPerImage, tally.T)
        IdentityMaxAbs = e.IdentityMaxAbs
        PerImageCorrect = tally.PerImageCorrect
        Tally = Some tally }

/// Simulates `snn` once at the largest of `ts` on the SNN test images and reads every other T
/// out on the way; one row per T. With `anatomy`, the rows hold the per-layer error terms and
/// v(T) histograms.
let evaluate
    (ctx: StepContext)
    (snn: SpikingNetwork)
    (ts: int list)
    (source: Ann)
    (sourceSpec: NetworkSpec)
    (madeFor: int option)
    (lineage: LineageEntry list)
    (anatomy: bool)
    (probe: bool)
    (taskName: string)
    : EvaluationRow list =
    let clock = Stopwatch.StartNew()
    let batches = ctx.Data.SnnTestBatches
    let task = ctx.Progress.Start(taskName, batches.Count)

    let macs =
        match Network.validate sourceSpec with
        | Ok i -> Evaluation.annMacs i
        | Error _ -> nan

    let tallies =
        Evaluation.tallySnnAt snn ts macs batches (if anatomy then Some(label lineage) else None) task

    task.Finish()
    let seconds = clock.Elapsed.TotalSeconds / float tallies.Length

    [ for tally in tallies ->
          withTally
              { T = tally.T
                Source = source
                MadeFor = madeFor
                Lineage = lineage
                Images = 0
                Accuracy = nan
                Layers = [||]
                Potentials = [||]
                SopsPerImage = nan
                FirstLayerMacsPerImage = nan
                EnergyRatio = nan
                IdentityMaxAbs = nan
                Seconds = seconds
                Probe = probe
                PerImageCorrect = null
                Tally = None }
              tally ]
