/// What the training steps share: compiling a network with seeded initial weights, training it
/// resumably on the run's training images, and recording its accuracies.
module Snn.Dsl.Pipeline.AnnTraining

open TorchSharp
open Snn.Dsl
open Snn.Dsl.Pipeline.Training

/// Whether a spec holds batch norm (that must be folded before conversion).
let hasBatchNorm (spec: NetworkSpec) =
    spec.Layers
    |> List.exists (function
        | BatchNorm -> true
        | Residual r -> r.BatchNorm
        | _ -> false)

/// The descriptor of a network trained from `spec` with `activation`.
let trained (spec: NetworkSpec) (activation: Activation) =
    AnnDescriptor
        { Spec = spec
          Activation = activation
          HasBatchNorm = hasBatchNorm spec
          Tuning = [] }

/// A problem when an earlier step already made `artifact`: a pipeline trains each network once.
let madeOnce (artifact: Artifact) (s: PlanState) =
    match s.MadeBy.TryFind artifact with
    | Some i ->
        [ $"makes %s{artifact.Description}, which step %d{i} already made: a pipeline trains each network once" ]
    | None -> []

/// Training steps' common checks: epochs in [0, MaxEpochs] and the optimizer's settings. Zero
/// epochs train nothing: the step keeps the network's seeded initial (or copied) weights and
/// records its accuracies (smoke runs and timings of the later steps on an untrained network).
let problems (epochs: int) (sgd: Sgd) =
    Declare.inRange "epochs" 0 MaxEpochs epochs @ Sgd.problems "optimizer" sgd

/// Compiles the spec with initial weights from a generator seeded by (seed, stream), so a
/// resumed run initialises every network exactly as an uninterrupted one does; the weights are
/// drawn on the CPU (the same on every device) and the network is then moved to the run's device.
let compile (ctx: StepContext) (stream: int) (activation: Activation) (spec: NetworkSpec) =
    torch.manual_seed (int64 ctx.Seed * 7919L + int64 stream) |> ignore

    match Compile.compile activation spec with
    | Ok n -> Compile.toDevice ctx.Device n
    | Error es -> invalidArg "spec" (es |> List.map _.Message |> String.concat "; ")

/// Trains `net` (resuming from its checkpoint) on the run's training images with the objective
/// `loss` (None: cross-entropy), shuffled and augmented with a loader seeded by `loaderSeed` (on
/// the CPU, each batch then moved to the run's device), then records its test and held-out
/// accuracy and thresholds. `name` labels the log ("clip: epoch 2/10 ...").
let trainWith
    (ctx: StepContext)
    (ann: Ann)
    (name: string)
    (net: CompiledNetwork)
    (sgd: Sgd)
    (epochs: int)
    (loaderSeed: int)
    (loss: Snn.Core.Training.TrainingLoss option)
    =
    let loader = ctx.Data.TrainLoader(sgd.BatchSize, loaderSeed)

    let result =
        trainResumable
            (ctx.CheckpointPath(Network ann))
            ctx.Progress
            name
            ctx.Seed
            sgd
            epochs
            loss
            net
            loader.BatchCount
            (fun e ->
                loader.Epoch e
                |> Seq.map (fun struct (x, y) -> ctx.Data.OnDevice x, ctx.Data.OnDevice y))

    ctx.Carry result.PriorSeconds
    let history = result.History
    net.eval ()
    let test = Evaluation.annTest net ctx.Data.TestBatches

    { Ann = ann
      TestAccuracy = test.Percent
      TestImages = test.Count
      TestPerImageCorrect = test.Hits
      HeldOutAccuracy = Evaluation.annAccuracy net ctx.Data.HeldOutBatches
      Seconds = history |> Array.sumBy _.Seconds
      Thresholds =
        Compile.thresholds net
        |> List.map (fun (n, t) -> { Layer = n; Threshold = t })
        |> Array.ofList
      History = history }

/// `trainWith` cross-entropy.
let train
    (ctx: StepContext)
    (ann: Ann)
    (name: string)
    (net: CompiledNetwork)
    (sgd: Sgd)
    (epochs: int)
    (loaderSeed: int)
    =
    trainWith ctx ann name net sgd epochs loaderSeed None
