/// Phase I step 3 (PAPER.md): for each target latency T, a copy of the folded clip ANN
/// fine-tuned with noisy quantize-clip activations at L = T.
module Snn.Dsl.Pipeline.Steps.FineTuneQC

open System.Text.Json.Nodes
open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Training

type Parameters =
    {
        /// The levels L to fine-tune for (one QC ANN each, for T = L).
        TimeSteps: int list
        Epochs: int
        Optimizer: Sgd
        /// p: probability that an activation stays unrounded in training, in [0, 1).
        NoiseProbability: float
        /// Start from thresholds fitted, layer by layer, to the clip network's activations
        /// (ThresholdFit) instead of the copied clip thresholds (PAPER.md's start). At L = 1 on
        /// the bench profile this raised the fine-tuned QC ANN from 86.97 % to 90.53 %.
        FitThresholds: bool
    }

/// BENCHMARKS.md's fine-tune: SGD momentum 0.9, lr 1e-3, no weight decay, cosine, batch 128,
/// p = 0.1, fitted starting thresholds.
let defaults =
    { TimeSteps = [ 1; 2; 4 ]
      Epochs = 3
      Optimizer =
        { Sgd.paper with
            LearningRate = 1e-3
            WeightDecay = 0.0 }
      NoiseProbability = 0.1
      FitThresholds = true }

let private fields =
    Codec.record (fun ts e o p f ->
        { TimeSteps = ts
          Epochs = e
          Optimizer = o
          NoiseProbability = p
          FitThresholds = f })
    |> Codec.field "time_steps" _.TimeSteps (Codec.list Codec.int)
    |> Codec.field "epochs" _.Epochs Codec.int
    |> Codec.fieldOr "optimizer" _.Optimizer Sgd.codec defaults.Optimizer
    |> Codec.fieldOr "noise_probability" _.NoiseProbability Codec.float 0.1
    |> Codec.fieldOr "fit_thresholds" _.FitThresholds Codec.bool true

/// What the QC ANN at L depends on: every parameter but the list of L, plus L itself (adding a
/// T to the list does not retrain the others).
let private identityOf (p: Parameters) (levels: int) =
    let o = JsonObject()

    for k, v in Codec.encodeFields fields { p with TimeSteps = [] } do
        if k <> "time_steps" then
            o[k] <- v

    o["levels"] <- JsonValue.Create levels
    o :> JsonNode

/// The training images the starting thresholds are fitted on (no augmentation).
[<Literal>]
let FitImages = 512

let private fitThresholds (ctx: StepContext) (name: string) (folded: CompiledNetwork) (qc: CompiledNetwork) =
    qc.eval ()
    let copied = Evaluation.annAccuracy qc ctx.Data.HeldOutBatches
    use images = ctx.Data.TrainingImages FitImages
    let fits = ThresholdFit.fit folded qc images
    let fitted = Evaluation.annAccuracy qc ctx.Data.HeldOutBatches

    for x in fits do
        ctx.Log
            $"{name}: {x.Layer} theta %.3f{x.ClipThreshold} -> %.3f{x.Threshold} (mean square to the clip activation %.3g{x.CopiedError} -> %.3g{x.FittedError})"

    ctx.Log
        $"{name}: QC ANN before fine-tuning, held-out accuracy %.2f{copied}%% with the clip thresholds, %.2f{fitted}%% with the fitted ones"

/// theta0 of a QC ANN made from the clip ANN with this activation: the clip's initial threshold.
let private initialThreshold (clip: Activation) =
    match clip with
    | Clip t -> t
    | _ -> TrainClip.defaults.InitialThreshold

/// What validation knows of the QC ANN at L made from the clip ANN `clip` with noise probability p.
let qcInfo (clip: AnnInfo) (levels: int) (p: float) =
    { clip with
        Activation = NoisyQC(levels, initialThreshold clip.Activation, p) }

/// A QC ANN at L as the fine-tune starts it: the folded clip ANN's weights and thresholds with
/// noisy QC (probability `noise`), the thresholds then fitted to the clip activations when `fit`.
/// The caller owns it.
let start (ctx: StepContext) (fit: bool) (noise: float) (levels: int) =
    let folded = ctx.Ann ClipAnn

    let qc =
        Compile.withActivation (NoisyQC(levels, initialThreshold folded.Activation, noise)) folded

    if fit then
        fitThresholds ctx $"finetune-L{levels}" folded qc

    qc

let private fineTune (p: Parameters) (ctx: StepContext) (levels: int) =
    let artifact = Network(QcAnn levels)

    match ctx.TryReuse artifact with
    | Some(value, records) -> ctx.Put(artifact, value, records)
    | None ->
        let qc = start ctx p.FitThresholds p.NoiseProbability levels

        let record =
            AnnTraining.train ctx (QcAnn levels) $"finetune-L{levels}" qc p.Optimizer p.Epochs (ctx.Seed + 10 + levels)

        ctx.Log $"Phase I QC ANN (L = {levels}): test accuracy %.2f{record.TestAccuracy}%%"
        ctx.Put(artifact, AnnValue qc, [ AnnTrained record ])

let definition: StepDefinition<Parameters> =
    { Name = "fineTuneQC"
      Parameters = fields
      Label =
        fun p ->
            let ls = p.TimeSteps |> List.map string |> String.concat ", "
            $"fineTuneQC (L = %s{ls}, %d{p.Epochs} epochs)"
      Problems =
        fun p ->
            Declare.timeSteps p.TimeSteps
            @ AnnTraining.problems p.Epochs p.Optimizer
            @ Declare.probability "noise_probability" p.NoiseProbability
      Declare =
        fun p s ->
            match Declare.ann ClipAnn s with
            | Error e -> Declare.fromProblems [ e ]
            | Ok clip ->
                let makes =
                    [ for l in p.TimeSteps -> Network(QcAnn l), AnnDescriptor(qcInfo clip l p.NoiseProbability) ]

                { Declare.none with
                    Needs = [ Network ClipAnn ]
                    Makes = makes
                    Records = true
                    IdentityOf =
                        function
                        | Network(QcAnn l) -> Some(identityOf p l)
                        | _ -> None
                    Problems =
                        Declare.folded ClipAnn clip
                        @ [ for l in p.TimeSteps do
                                yield! AnnTraining.madeOnce (Network(QcAnn l)) s ] }
      Run =
        fun p ctx ->
            for l in List.sort p.TimeSteps do
                fineTune p ctx l }

/// Noisy-QC fine-tuning at L = T for each T in `timeSteps`, `epochs` epochs each (the defaults otherwise).
let step (timeSteps: int list) epochs =
    Step.create
        definition
        { defaults with
            TimeSteps = timeSteps
            Epochs = epochs }
