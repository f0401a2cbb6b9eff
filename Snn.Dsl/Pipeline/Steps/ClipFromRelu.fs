/// Phase I's clip ANN made from a trained ReLU ANN (imported by importAnn, or trained here)
/// instead of trained from initial weights: the same weights, and each activation's threshold
/// theta_l from activation statistics of training images: the p-th percentile of the layer's
/// positive pre-activations (SNN Toolbox's robust normalisation, p = 99.9 by default;
/// ActivationStatistics), or the bounded ReLU's maximum m where the ANN has one (an imported
/// Clip(0, m)). A trainClip with start_from = "clip" may fine-tune it afterwards.
module Snn.Dsl.Pipeline.Steps.ClipFromRelu

open System
open System.Diagnostics
open System.Text.Json
open System.Text.Json.Nodes
open TorchSharp
open Snn.Core.Activations
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Reporting

type Parameters =
    {
        /// p in (0, 100]: theta_l is the p-th percentile of layer l's positive pre-activations.
        Percentile: float
        /// The first training images (no augmentation) the statistics are taken over.
        Images: int
    }

let defaults = { Percentile = 99.9; Images = 1024 }

/// Images per forward pass of the statistics.
[<Literal>]
let BatchSize = 256

/// The threshold of a layer in which no training image made a positive pre-activation: its
/// output is 0 whatever theta is, so any positive theta computes the same.
[<Literal>]
let DeadLayerThreshold = 1.0

/// Where a layer's threshold comes from.
type ThresholdSource =
    /// The percentile of the layer's positive pre-activations.
    | FromPercentile
    /// The ANN's own bounded-ReLU maximum m.
    | FromBoundedRelu
    /// No positive pre-activation: DeadLayerThreshold.
    | DeadLayer

    /// As the step's record writes it.
    member this.Name =
        match this with
        | FromPercentile -> "percentile"
        | FromBoundedRelu -> "bounded_relu"
        | DeadLayer -> "dead"

/// How one layer's threshold was chosen.
type LayerThreshold =
    { Layer: string
      Threshold: float
      Source: ThresholdSource
      Statistics: ActivationStatistics.LayerStatistics }

/// Each activation's threshold: the bounded ReLU's maximum where `relu` has one, else the
/// statistic's percentile (DeadLayerThreshold when no value was positive).
let choose (relu: CompiledNetwork) (stats: ActivationStatistics.LayerStatistics list) =
    let maxima =
        Compile.activations relu
        |> List.choose (fun l ->
            match l.Module with
            | :? ClipActivation as c when c.EffectiveThreshold < float Single.MaxValue ->
                Some(l.Name, c.EffectiveThreshold)
            | _ -> None)
        |> Map.ofList

    [ for s in stats ->
          match maxima.TryFind s.Layer with
          | Some m ->
              { Layer = s.Layer
                Threshold = m
                Source = FromBoundedRelu
                Statistics = s }
          | None when Double.IsNaN s.Percentile ->
              { Layer = s.Layer
                Threshold = DeadLayerThreshold
                Source = DeadLayer
                Statistics = s }
          | None ->
              { Layer = s.Layer
                Threshold = s.Percentile
                Source = FromPercentile
                Statistics = s } ]

/// The clip ANN: `relu`'s spec and weights with clip activations at these thresholds (eval mode).
let clipAnn (relu: CompiledNetwork) (thresholds: LayerThreshold list) =
    let clip = Compile.withActivation (Clip DeadLayerThreshold) relu
    let byName = thresholds |> List.map (fun t -> t.Layer, t.Threshold) |> Map.ofList
    use _ = torch.no_grad ()

    for l in Compile.activations clip do
        match l.Module with
        | :? ClipActivation as c -> c.Threshold.fill_ byName[l.Name] |> ignore
        | other -> invalidOp $"{l.Name}: expected a clip activation, got {other.GetType().Name}"

    clip.eval ()
    clip

let private describe (p: Parameters) (t: LayerThreshold) =
    let s = t.Statistics

    match t.Source with
    | FromBoundedRelu -> $"{t.Layer}: theta %.4g{t.Threshold} (the bounded ReLU's maximum)"
    | DeadLayer -> $"{t.Layer}: theta %.4g{t.Threshold} (no positive pre-activation in {p.Images} images)"
    | FromPercentile ->
        let share = 100.0 * float s.Positive / float (max 1L s.Count)
        $"{t.Layer}: theta %.4g{t.Threshold} (the %g{p.Percentile}th percentile of {Format.thousands s.Positive} positive pre-activations, %.1f{share}%% of all; max %.4g{s.Max})"

let private run (p: Parameters) (ctx: StepContext) =
    let clock = Stopwatch.StartNew()
    let relu = ctx.Ann ReluAnn
    use images = ctx.Data.TrainingImages p.Images
    let count = images.shape[0]

    let batches =
        seq {
            for start in 0L .. int64 BatchSize .. count - 1L do
                yield images.narrow (0, start, min (int64 BatchSize) (count - start))
        }

    let thresholds =
        ActivationStatistics.percentiles relu p.Percentile batches |> choose relu

    let clip = clipAnn relu thresholds

    for t in thresholds do
        ctx.Log $"clipFromRelu: {describe p t}"

    let seconds = clock.Elapsed.TotalSeconds
    let tested = Evaluation.annTest clip ctx.Data.TestBatches
    let test = tested.Percent
    let heldOut = Evaluation.annAccuracy clip ctx.Data.HeldOutBatches
    ctx.Log $"Phase I clip ANN from the ReLU ANN: test accuracy %.2f{test}%%, held-out %.2f{heldOut}%%"

    let record =
        { Ann = ClipAnn
          TestAccuracy = test
          TestImages = tested.Count
          TestPerImageCorrect = tested.Hits
          HeldOutAccuracy = heldOut
          Seconds = seconds
          // As the network holds them (float32).
          Thresholds =
            Compile.thresholds clip
            |> List.map (fun (n, t) -> { Layer = n; Threshold = t })
            |> Array.ofList
          History = [||] }

    let statistics =
        JsonSerializer.SerializeToNode(
            thresholds
            |> List.map (fun t ->
                {| Layer = t.Layer
                   Threshold = t.Threshold
                   Source = t.Source.Name
                   Count = t.Statistics.Count
                   Positive = t.Statistics.Positive
                   Max = t.Statistics.Max
                   Percentile = t.Statistics.Percentile |})
            |> Array.ofList,
            Reporting.Results.jsonOptions
        )

    ctx.Put(Network ClipAnn, AnnValue clip, [ AnnTrained record; CustomRecord("clipFromRelu", statistics) ])

let definition: StepDefinition<Parameters> =
    { Name = "clipFromRelu"
      Parameters =
        Codec.record (fun p i -> { Percentile = p; Images = i })
        |> Codec.fieldOr "percentile" _.Percentile Codec.float defaults.Percentile
        |> Codec.fieldOr "images" _.Images Codec.int defaults.Images
      Label = fun p -> $"clipFromRelu (%g{p.Percentile}th percentile of %d{p.Images} training images)"
      Problems =
        fun p ->
            [ if not (p.Percentile > 0.0 && p.Percentile <= 100.0) then
                  $"percentile = %g{p.Percentile} is out of range: expected (0, 100]" ]
            @ Declare.atLeast "images" 1 p.Images
      Declare =
        fun p s ->
            match Declare.ann ReluAnn s with
            | Error e -> Declare.fromProblems [ e ]
            | Ok relu ->
                { Declare.none with
                    Needs = [ Network ReluAnn ]
                    Makes =
                        [ Network ClipAnn,
                          AnnDescriptor
                              { relu with
                                  Activation = Clip DeadLayerThreshold } ]
                    Records = true
                    Problems =
                        AnnTraining.madeOnce (Network ClipAnn) s
                        @ [ match s.Data with
                            | Some facts when p.Images > facts.Train ->
                                $"images = %d{p.Images}, but the train split has %d{facts.Train} images"
                            | _ -> () ] }
      Run = run }

/// The clip ANN from the ReLU ANN with thresholds at the `percentile`-th percentile of 1,024
/// training images' positive pre-activations (a bounded ReLU keeps its maximum).
let step percentile =
    Step.create
        definition
        { defaults with
            Percentile = percentile }
