/// The main job: an experiment value executed end to end — ReLU baseline, Phase I (clip
/// training, batch-norm folding, noisy-QC fine-tuning per T), conversion, Phase II (potential,
/// weight and potential calibration per T), the QCFS baseline, evaluation of every stage at every
/// T with the exact error anatomy and energy, and the report. Every stage is recorded in the run
/// folder, so running the same experiment again resumes and never redoes finished work.
module Snn.Dsl.Pipeline.Runner

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open TorchSharp
open Snn.Core.Data
open Snn.Core.Simulation
open Snn.Core.Calibration
open Snn.Core.Errors
open Snn.Core.Energy
open Snn.Core.Checkpoints
open Snn.Dsl
open Snn.Dsl.Reporting.Results
open Snn.Dsl.Pipeline.Training

type Tensor = torch.Tensor

/// The identity r = z + (v(0) - v(T))/T must hold to this absolute tolerance in every evaluation.
[<Literal>]
let IdentityTolerance = 1e-4

/// Evaluation batch size.
[<Literal>]
let EvalBatch = 256

/// Bins of the v(T)/theta histograms on [-1, 2].
[<Literal>]
let PotentialBins = 30

/// What the runner needs from the pipeline, read once from the phase list.
type private Plan =
    { Relu: TrainRelu option
      Clip: TrainClip
      Fold: bool
      FineTune: FineTuneQC option
      Potential: CalibratePotential option
      Weights: CalibrateWeights option
      PotentialAgain: bool
      Evaluate: int list
      Qcfs: Qcfs option }

let private plan (pipeline: Phase list) =
    let clip =
        pipeline
        |> List.tryPick (function
            | TrainClip c -> Some c
            | _ -> None)
        |> Option.defaultWith (fun () -> invalidArg "pipeline" "the pipeline needs a trainClip phase")

    let calibrations =
        pipeline
        |> List.filter (function
            | CalibratePotential _ -> true
            | _ -> false)

    { Relu =
        pipeline
        |> List.tryPick (function
            | TrainRelu r -> Some r
            | _ -> None)
      Clip = clip
      Fold = pipeline |> List.contains FoldBatchNorm
      FineTune =
        pipeline
        |> List.tryPick (function
            | FineTuneQC f -> Some f
            | _ -> None)
      Potential =
        calibrations
        |> List.tryHead
        |> Option.map (function
            | CalibratePotential c -> c
            | _ -> failwith "unreachable")
      Weights =
        pipeline
        |> List.tryPick (function
            | CalibrateWeights c -> Some c
            | _ -> None)
      PotentialAgain = calibrations.Length >= 2
      Evaluate =
        pipeline
        |> List.collect (function
            | Evaluate ts -> ts
            | _ -> [])
        |> List.distinct
        |> List.sort
      Qcfs =
        pipeline
        |> List.tryPick (function
            | Qcfs q -> Some q
            | _ -> None) }

/// Options of a run that are not part of the experiment (they do not change its numbers).
type RunOptions =
    {
        /// Overrides the experiment's output folder.
        OutputFolder: string option
        /// Overrides the experiment's data path.
        DataPath: string option
        Progress: IProgressSink
    }

let private datasetKind =
    function
    | FashionMnist -> DatasetKind.FashionMnist
    | Mnist -> DatasetKind.Mnist
    | Cifar10 -> DatasetKind.Cifar10
    | Cifar100 -> DatasetKind.Cifar100
    | ImageNet1k -> DatasetKind.ImageFolder

let private gitCommit () =
    try
        let psi =
            ProcessStartInfo(
                "git",
                "rev-parse --short=12 HEAD",
                RedirectStandardOutput = true,
                RedirectStandardError = true
            )

        use p = Process.Start psi
        let out = p.StandardOutput.ReadToEnd().Trim()
        p.WaitForExit()
        if p.ExitCode = 0 && out <> "" then out else "unknown"
    with _ ->
        "unknown"

/// MACs of one ANN forward per image, from the spec's inferred shapes (average pooling folded:
/// 0 MACs; batch norm folded: 0 MACs).
let annMacs (info: NetworkInfo) =
    let conv (inShape: Shape) (outShape: Shape) (c: Conv) =
        match inShape, outShape with
        | Image(ci, _, _), Image(co, ho, wo) ->
            int64 co * int64 ho * int64 wo * int64 ci * int64 c.Kernel * int64 c.Kernel
        | _ -> 0L

    info.Layers
    |> List.sumBy (fun l ->
        match l.Layer with
        | Conv c -> conv l.InputShape l.OutputShape c
        | Linear lin ->
            match l.InputShape with
            | Vector n -> int64 n * int64 lin.OutFeatures
            | Image(c, h, w) -> int64 (c * h * w) * int64 lin.OutFeatures
        | Residual r ->
            let ci =
                match l.InputShape with
                | Image(c, _, _) -> c
                | _ -> 0

            match l.OutputShape with
            | Image(co, ho, wo) ->
                let hw = int64 ho * int64 wo
                let body = hw * int64 co * (int64 ci * 9L + int64 co * 9L)

                let projection =
                    if r.Stride <> 1 || ci <> co || r.Shortcut = Projection then
                        hw * int64 co * int64 ci
                    else
                        0L

                body + (if r.Shortcut = Identity then 0L else projection)
            | _ -> 0L
        | _ -> 0L)
    |> float

/// Evaluation of a spiking network on a set of batches at one T.
type SnnEvaluation =
    { Accuracy: float
      Layers: LayerErrors[]
      Potentials: PotentialHistogram[]
      SopsPerImage: float
      FirstLayerMacsPerImage: float
      IdentityMaxAbs: float }

/// What one T's evaluation accumulates over the batches.
type private Tally(layers: int) =
    member val Correct = 0L with get, set
    member val Seen = 0L with get, set
    member val Sops = 0.0 with get, set
    member val Analog = 0.0 with get, set
    member val Summaries = Array.create layers LayerErrorSummary.Empty
    member val Thresholds = Array.zeroCreate<float> layers
    member val Histogram = Array.init layers (fun _ -> Array.zeroCreate<int64> PotentialBins)

/// Runs the SNN on the batches once, at the largest T of `ts`, and reads every smaller T of `ts`
/// out on the way (a readout at t equals a run with T = t: the dynamics are causal and v(0) does
/// not depend on T). Per T: accuracy, SOPs and the identity check; with `record`, also the
/// per-layer error anatomy (stage label `record`) and v(T)/theta histograms. Fails loudly when the
/// identity r = z + (v(0) - v(T))/T is violated by more than IdentityTolerance at any T.
let evaluateSnnAt
    (snn: SpikingNetwork)
    (ts: int list)
    (batches: (Tensor * Tensor) list)
    (record: string option)
    (task: IProgressTask)
    : (int * SnnEvaluation) list =
    let ts = ts |> List.distinct |> List.sort
    let tMax = List.last ts
    let names = snn.NeuronLayers |> Seq.map (fun i -> snn.Layers[i].Name) |> Array.ofSeq
    let tallies = ts |> List.map (fun t -> t, Tally names.Length) |> dict

    let options =
        SimulationOptions(Record = true, Readouts = (ts |> List.filter (fun t -> t < tMax) |> Array.ofList))

    let add (tally: Tally) (result: SimulationResult) (labels: Tensor) =
        let t = result.TimeSteps
        tally.Correct <- tally.Correct + result.Output.argmax(1L).eq(labels).sum().item<int64> ()
        tally.Seen <- tally.Seen + labels.shape[0]
        let mutable k = 0

        for layer in result.Layers do
            tally.Sops <- tally.Sops + layer.SynapticOperations
            tally.Analog <- tally.Analog + layer.AnalogOperations

            if not (isNull layer.Rate) then
                // Summarised in every evaluation: the identity is checked even when not reported.
                let s =
                    ErrorDecomposition.Summarize(
                        layer.MeanInput,
                        layer.Rate,
                        layer.Threshold,
                        t,
                        layer.InitialPotential,
                        layer.FinalPotential
                    )

                tally.Summaries[k] <- tally.Summaries[k] + s

                if record.IsSome then
                    tally.Thresholds[k] <- layer.Threshold.mean().item<float32> () |> float
                    // Bin v(T)/theta on [-1, 2] into PotentialBins equal bins (outside values clamp to the end bins).
                    let ratio = layer.FinalPotential / layer.Threshold

                    let bins =
                        ((ratio + 1.0) * (float PotentialBins / 3.0))
                            .floor()
                            .clamp ((0.0).ToScalar(), (float (PotentialBins - 1)).ToScalar())

                    let counts =
                        torch
                            .bincount(bins.to_type(torch.ScalarType.Int64).flatten (), minlength = int64 PotentialBins)
                            .data<int64>()
                            .ToArray()

                    for b in 0 .. PotentialBins - 1 do
                        tally.Histogram[k][b] <- tally.Histogram[k][b] + counts[b]

                k <- k + 1

    for images, labels in batches do
        use scope = torch.NewDisposeScope()
        use result = snn.Run(images, tMax, options)

        for r in Seq.append result.Readouts [ result ] do
            add tallies[r.TimeSteps] r labels

        task.Advance(1, "")

    let finish t (tally: Tally) =
        let identity =
            tally.Summaries
            |> Array.map (fun s -> s.MaxIdentityDeviation)
            |> Array.fold max 0.0

        if identity > IdentityTolerance then
            failwithf
                "the identity r = z + (v(0) - v(T))/T is violated by %g (> %g) at T = %d: the simulation is wrong"
                identity
                IdentityTolerance
                t

        let stage = defaultArg record ""

        { Accuracy = 100.0 * float tally.Correct / float (max 1L tally.Seen)
          Layers =
            if record.IsNone then
                [||]
            else
                Array.init names.Length (fun k ->
                    let s = tally.Summaries[k]

                    { Name = names[k]
                      Stage = stage
                      ResidualMeanAbs = s.MeanAbsoluteResidual
                      QuantizationMeanAbs = s.MeanAbsoluteQuantization
                      ClippingMeanAbs = s.MeanAbsoluteClipping
                      ResidualMean = s.SignedMeanResidual
                      QuantizationMean = s.SignedMeanQuantization
                      ClippingMean = s.SignedMeanClipping
                      TotalMeanAbs = s.MeanAbsoluteTotal
                      NegativeShare = s.NegativeShare
                      OverflowShare = s.OverflowShare
                      Threshold = tally.Thresholds[k] })
          Potentials =
            if record.IsNone then
                [||]
            else
                Array.init names.Length (fun k ->
                    { Name = names[k]
                      Stage = stage
                      Low = -1.0
                      High = 2.0
                      Counts = tally.Histogram[k] })
          SopsPerImage = tally.Sops / float (max 1L tally.Seen)
          FirstLayerMacsPerImage = tally.Analog / float (max 1L tally.Seen) / float t
          IdentityMaxAbs = identity }

    ts |> List.map (fun t -> t, finish t tallies[t])

/// Runs the SNN at T on the batches (see evaluateSnnAt).
let evaluateSnn
    (snn: SpikingNetwork)
    (t: int)
    (batches: (Tensor * Tensor) list)
    (record: string option)
    (task: IProgressTask)
    =
    evaluateSnnAt snn [ t ] batches record task |> List.exactlyOne |> snd

/// A learned threshold |theta| of one activation layer.
type NamedThreshold = { Layer: string; Threshold: float }

/// The record of a trained ANN stage.
type AnnStage =
    { TestAccuracy: float
      HeldOutAccuracy: float
      Seconds: float
      Thresholds: NamedThreshold[] }

/// The record of one dual-phase T.
type DualStage =
    { Entry: DualPhaseEntry
      IdentityMaxAbs: float
      EvaluationSeconds: float }

/// Direct conversion of the folded clip ANN at one T.
type DirectPoint =
    { T: int
      Accuracy: float
      IdentityMaxAbs: float
      Seconds: float }

/// The record of the QCFS baseline.
type QcfsStage =
    { Result: QcfsResult
      TrainSeconds: float
      EvaluationSeconds: float
      IdentityMaxAbs: float }

let private pairs (batches: seq<struct (Tensor * Tensor)>) =
    batches |> Seq.map (fun struct (x, y) -> x, y)

let private batchesOf (loader: BatchLoader) = loader.Epoch 0 |> pairs |> Seq.toList

let private disposeAll (batches: (Tensor * Tensor) list) =
    for x, y in batches do
        x.Dispose()
        y.Dispose()

/// Runs an experiment (validated first: every error at once) and writes report.md,
/// results.json and the plots into its folder. Returns the results.
let run (options: RunOptions) (experiment: Experiment) : RunResults =
    let experiment =
        match Experiment.validate experiment with
        | Ok e -> e
        | Error es -> invalidArg "experiment" ("the experiment is not valid:\n  " + String.Join("\n  ", es))

    let sink = options.Progress
    let total = Stopwatch.StartNew()
    let p = plan experiment.Pipeline
    let root = defaultArg options.OutputFolder experiment.OutputFolder
    let folder = RunFolder(root)

    // The experiment that ran, recorded beside the results; a different experiment in the same
    // folder would mix results, so it is refused.
    let experimentPath = Path.Combine(root, "experiment.json")
    let json = Experiment.toJson experiment

    if File.Exists experimentPath && File.ReadAllText experimentPath <> json then
        invalidOp
            $"{experimentPath}: this folder holds a run of a different experiment; choose another output folder (--out) or delete it"

    File.WriteAllText(experimentPath + ".tmp", json)
    File.Move(experimentPath + ".tmp", experimentPath, true)
    torch.set_num_threads Environment.ProcessorCount
    let seed = experiment.Seed
    torch.manual_seed (int64 seed) |> ignore
    let kind = datasetKind experiment.Data.Dataset

    let dataPath =
        options.DataPath |> Option.orElse experiment.Data.Path |> Option.toObj

    use splits = DataSplits.Load(kind, dataPath)
    sink.Log $"data: {splits.Kind} from {splits.Folder}"

    let perClass (d: ImageDataset) =
        d.ClassCounts()
        |> Array.distinct
        |> Array.map (fun c -> c.ToString "N0")
        |> String.concat "/"

    sink.Log
        $"data: {splits.FullTrain.Count:N0} training images ({splits.Train.Count:N0} train + {splits.HeldOut.Count:N0} held-out), {splits.Test.Count:N0} test images; per class {perClass splits.FullTrain} training, {perClass splits.Test} test"

    use train =
        match experiment.Data.TrainImages with
        | Some n when n < splits.Train.Count -> splits.Train.Subset(0, n)
        | _ -> splits.Train.Subset(0, splits.Train.Count)

    use test =
        match experiment.Data.TestImages with
        | Some n when n < splits.Test.Count -> splits.Test.Subset(0, n)
        | _ -> splits.Test.Subset(0, splits.Test.Count)

    let norm = Normalization.For kind
    let spec = Experiment.spec experiment

    let info =
        match Network.validate spec with
        | Ok i -> i
        | Error es -> invalidArg "experiment" (String.Join("; ", es |> List.map _.Message))

    let evalLoader (d: ImageDataset) = BatchLoader(d, EvalBatch, false, norm)
    // ANNs are evaluated on the whole test split; SNNs on the first Data.TestImages test images
    // when the experiment limits them (the quick profile), else on the whole split too.
    let testBatches = batchesOf (evalLoader splits.Test)
    let snnTestBatches = batchesOf (evalLoader test)
    let heldOutBatches = batchesOf (evalLoader splits.HeldOut)

    /// Compiles with the initial weights drawn from a generator seeded by (seed, stage), so a
    /// resumed run initialises every network exactly as an uninterrupted one does.
    let compile (stage: int) activation =
        torch.manual_seed (int64 seed * 7919L + int64 stage) |> ignore

        match Compile.compile activation spec with
        | Ok n -> n
        | Error es -> invalidArg "experiment" (String.Join("; ", es |> List.map _.Message))

    let sgdRecipe (o: Sgd) epochs =
        { Epochs = epochs
          LearningRate = o.LearningRate
          Momentum = o.Momentum
          WeightDecay = o.WeightDecay }

    let evaluateAnn (net: torch.nn.Module<Tensor, Tensor>) (batches: (Tensor * Tensor) list) =
        Snn.Core.Training.Trainer
            .Evaluate(net, batches |> Seq.map (fun (x, y) -> struct (x.alias (), y.alias ())))
            .Accuracy

    /// Trains (or resumes, or loads) a network and records its accuracies.
    let trainStage (name: string) (net: CompiledNetwork) (o: Sgd) (epochs: int) (loaderSeed: int) =
        let loader =
            BatchLoader(train, o.BatchSize, true, norm, Augmentation.For kind, loaderSeed)

        let history =
            trainResumable folder sink name seed (sgdRecipe o epochs) net loader.BatchCount (fun e ->
                loader.Epoch e |> pairs)

        folder.Stage(
            name,
            fun () ->
                net.eval ()

                { TestAccuracy = evaluateAnn net testBatches
                  HeldOutAccuracy = evaluateAnn net heldOutBatches
                  // Training time of every epoch, including epochs run before a resume.
                  Seconds = history |> Array.sumBy (fun h -> h.Seconds)
                  Thresholds =
                    Compile.thresholds net
                    |> List.map (fun (n, t) -> { Layer = n; Threshold = t })
                    |> Array.ofList }
        )

    // ---- ReLU baseline ----------------------------------------------------------------------
    let reluStage =
        p.Relu
        |> Option.map (fun r ->
            use net = compile 1 Relu
            let s = trainStage "relu" net r.Optimizer r.Epochs (seed + 1)
            sink.Log $"ReLU ANN: test accuracy {s.TestAccuracy:F2}%%"
            s)

    // ---- Phase I: clip training, folding, noisy-QC fine-tuning ---------------------------------
    let clipNet = compile 2 (Clip p.Clip.InitialThreshold)
    let clipStage = trainStage "clip" clipNet p.Clip.Optimizer p.Clip.Epochs (seed + 2)
    sink.Log $"Phase I clip ANN: test accuracy {clipStage.TestAccuracy:F2}%%"
    clipNet.eval ()
    let folded = if p.Fold then Fold.foldBatchNorm clipNet else clipNet
    folded.eval ()

    let fineTuneTargets =
        p.FineTune
        |> Option.map (fun f -> f.TimeSteps |> List.sort)
        |> Option.defaultValue []

    /// Training images (no augmentation) to fit fine-tune thresholds on: the first 512 of the
    /// training split.
    let fitImages () =
        use d = train.Subset(0, min 512 train.Count)
        let loader = BatchLoader(d, 512, false, norm)
        let x, y = loader.Epoch 0 |> pairs |> Seq.head
        y.Dispose()
        x

    /// The QC network fine-tuned at L (a copy of the folded clip network with noisy QC).
    let fineTuned =
        fineTuneTargets
        |> List.map (fun l ->
            let f = p.FineTune.Value

            let qc =
                Compile.withActivation (NoisyQC(l, p.Clip.InitialThreshold, f.NoiseProbability)) folded

            let name = $"finetune-L{l}"

            // The fit is deterministic (training images, no augmentation), so a resumed run
            // starts from the same thresholds; a checkpoint, when there is one, overrides them.
            if f.FitThresholds && not (folder.TryStage<AnnStage> name).IsSome then
                qc.eval ()
                let copied = evaluateAnn qc heldOutBatches
                use images = fitImages ()
                let fits = ThresholdFit.fit folded qc images
                let fitted = evaluateAnn qc heldOutBatches

                for x in fits do
                    sink.Log
                        $"{name}: {x.Layer} theta {x.ClipThreshold:F3} -> {x.Threshold:F3} (mean square to the clip activation {x.CopiedError:G3} -> {x.FittedError:G3})"

                sink.Log
                    $"{name}: QC ANN before fine-tuning, held-out accuracy {copied:F2}%% with the clip thresholds, {fitted:F2}%% with the fitted ones"

            let s = trainStage name qc f.Optimizer f.Epochs (seed + 10 + l)
            sink.Log $"Phase I QC ANN (L = {l}): test accuracy {s.TestAccuracy:F2}%%"
            l, (qc, s))
        |> Map.ofList

    let phase1Seconds =
        clipStage.Seconds
        + (fineTuned |> Map.toSeq |> Seq.sumBy (fun (_, (_, s)) -> s.Seconds))

    /// For each T: the fine-tuned model with the largest L <= T (or the smallest L).
    let modelFor (t: int) =
        match fineTuneTargets |> List.filter (fun l -> l <= t) |> List.tryLast with
        | Some l -> Some(l, fineTuned[l])
        | None -> fineTuneTargets |> List.tryHead |> Option.map (fun l -> l, fineTuned[l])

    let convert (net: CompiledNetwork) =
        match Convert.toSpiking ConversionOptions.Default net with
        | Ok s -> s
        | Error es -> invalidArg "network" (String.Join("; ", es |> List.map _.Message))

    // Calibration (1,024) and early-stopping (256) images from the held-out split, never test data.
    let calibrationCount =
        p.Potential
        |> Option.map (fun c -> c.CalibrationImages)
        |> Option.orElse (p.Weights |> Option.map (fun w -> w.CalibrationImages))
        |> Option.defaultValue 1024
        |> min (splits.HeldOut.Count / 2)

    let stoppingCount =
        p.Weights
        |> Option.map (fun w -> w.EarlyStoppingImages)
        |> Option.defaultValue 256
        |> min (splits.HeldOut.Count - calibrationCount)

    let calibBatch =
        p.Weights |> Option.map (fun w -> w.BatchSize) |> Option.defaultValue 128

    use calibrationSet = splits.HeldOut.Subset(0, calibrationCount)
    use stoppingSet = splits.HeldOut.Subset(calibrationCount, stoppingCount)

    let imagesOf (d: ImageDataset) =
        BatchLoader(d, calibBatch, false, norm).Epoch 0
        |> pairs
        |> Seq.map (fun (x, y) ->
            y.Dispose()
            x)
        |> Seq.toArray

    let calibrationImages = imagesOf calibrationSet
    let stoppingImages = imagesOf stoppingSet

    let calibrationOptions =
        p.Weights
        |> Option.map (fun w ->
            CalibrationOptions(
                LearningRate = w.LearningRate,
                MaxEpochs = w.Epochs,
                Patience = w.Patience,
                InitialSlope = w.InitialAlpha
            ))

    let macs = annMacs info
    let energy = EnergyModel.Default

    let ratio (e: SnnEvaluation) t =
        energy.Ratio(macs, e.SopsPerImage, e.FirstLayerMacsPerImage, t)

    let withTask name count (f: IProgressTask -> 'a) =
        let task = sink.Start(name, count)
        let r = f task
        task.Finish()
        r

    let nTest = snnTestBatches.Length

    let listOf (ts: int list) = String.Join(", ", ts)

    // ---- Phase II and its evaluation, at each T Phase I fine-tuned for (L = T) ------------------
    // Phase II calibrates the network fine-tuned at L = T for exactly that T; these figures come
    // first because they are the method's. Direct conversion is filled in from the "direct" stage.
    let phase2Ts = p.Evaluate |> List.filter fineTuned.ContainsKey

    let calibrated =
        [ for t in phase2Ts do
              folder.Stage(
                  $"phase2-T{t}",
                  fun () ->
                      let clock = Stopwatch.StartNew()
                      let qc, qcStage = fineTuned[t]
                      qc.eval ()
                      use snn = convert qc

                      let phase1 =
                          withTask $"T={t}: Phase I (L={t})" nTest (evaluateSnn snn t snnTestBatches (Some "phase1"))

                      let ann = Convert.annActivations qc

                      let calibrate (stages: PhaseTwoStages) (net: SpikingNetwork) =
                          PhaseTwo.Calibrate(
                              net,
                              ann,
                              calibrationImages,
                              stoppingImages,
                              t,
                              stages,
                              Option.toObj calibrationOptions,
                              Action<string>(fun m -> sink.Log $"  T={t} {m}")
                          )

                      let stagesOf a b =
                          (if a then PhaseTwoStages.Potential else enum 0)
                          ||| (if b then PhaseTwoStages.Weights else enum 0)

                      // Ablation: a alone, then a+b, each on its own copy.
                      let potentialAcc =
                          if p.Potential.IsSome then
                              use copy = snn.Clone()
                              calibrate (stagesOf true false) copy |> ignore

                              (withTask $"T={t}: + potential calibration" nTest (evaluateSnn copy t snnTestBatches None))
                                  .Accuracy
                          else
                              nan

                      let weightsAcc =
                          if p.Weights.IsSome then
                              use copy = snn.Clone()
                              calibrate (stagesOf p.Potential.IsSome true) copy |> ignore

                              (withTask $"T={t}: + weight calibration" nTest (evaluateSnn copy t snnTestBatches None))
                                  .Accuracy
                          else
                              nan

                      // The method: a, b, c layer by layer, in place.
                      let all =
                          stagesOf p.Potential.IsSome p.Weights.IsSome
                          ||| (if p.PotentialAgain then
                                   PhaseTwoStages.PotentialAgain
                               else
                                   enum 0)

                      let report = calibrate all snn

                      let final =
                          withTask $"T={t}: dual-phase final" nTest (evaluateSnn snn t snnTestBatches (Some "final"))

                      sink.Log
                          $"T={t}: Phase I {phase1.Accuracy:F2}%%, + potential {potentialAcc:F2}%%, + weights {weightsAcc:F2}%%, final {final.Accuracy:F2}%% (Phase II {report.Elapsed.TotalSeconds:F0} s)"

                      { Entry =
                          { T = t
                            FineTunedL = t
                            QcAnnTestAccuracy = qcStage.TestAccuracy
                            Snn =
                              { Direct = nan
                                Phase1 = phase1.Accuracy
                                Potential = potentialAcc
                                Weights = weightsAcc
                                Final = final.Accuracy }
                            Layers = Array.append phase1.Layers final.Layers
                            Potentials = Array.append phase1.Potentials final.Potentials
                            SopsPerImage = final.SopsPerImage
                            FirstLayerMacsPerImage = final.FirstLayerMacsPerImage
                            EnergyRatio = ratio final t
                            CalibrationSeconds = report.Elapsed.TotalSeconds }
                        IdentityMaxAbs = max phase1.IdentityMaxAbs final.IdentityMaxAbs
                        EvaluationSeconds = clock.Elapsed.TotalSeconds - report.Elapsed.TotalSeconds }
              ) ]

    // ---- QCFS baseline: trained once, converted, every T read out of one run ---------------------
    let qcfs =
        p.Qcfs
        |> Option.map (fun q ->
            let net = compile 3 (QC(q.Levels, q.InitialThreshold))
            let s = trainStage "qcfs" net q.Optimizer q.Epochs (seed + 3)

            folder.Stage(
                "qcfs-eval",
                fun () ->
                    let clock = Stopwatch.StartNew()
                    net.eval ()
                    use qcFolded = Fold.foldBatchNorm net
                    use snn = convert qcFolded

                    let evaluations =
                        withTask
                            $"QCFS T={listOf q.TimeSteps}"
                            nTest
                            (evaluateSnnAt snn q.TimeSteps snnTestBatches None)

                    let points =
                        [| for t, e in evaluations do
                               sink.Log $"QCFS SNN T={t}: {e.Accuracy:F2}%%"

                               yield
                                   { T = t
                                     TestAccuracy = e.Accuracy
                                     SopsPerImage = e.SopsPerImage
                                     EnergyRatio = ratio e t },
                                   e.IdentityMaxAbs |]

                    { Result =
                        { L = q.Levels
                          AnnTestAccuracy = s.TestAccuracy
                          Snn = points |> Array.map fst }
                      TrainSeconds = s.Seconds
                      EvaluationSeconds = clock.Elapsed.TotalSeconds
                      IdentityMaxAbs = points |> Array.map snd |> Array.fold max 0.0 }
            ))

    // ---- Direct conversion of the folded clip ANN: every T read out of one run ------------------
    let direct =
        if p.Evaluate.IsEmpty then
            [||]
        else
            folder.Stage(
                "direct",
                fun () ->
                    let clock = Stopwatch.StartNew()
                    use snn = convert folded

                    let evaluations =
                        withTask
                            $"direct conversion, T={listOf p.Evaluate}"
                            nTest
                            (evaluateSnnAt snn p.Evaluate snnTestBatches None)

                    let seconds = clock.Elapsed.TotalSeconds / float evaluations.Length

                    [| for t, e in evaluations ->
                           { T = t
                             Accuracy = e.Accuracy
                             IdentityMaxAbs = e.IdentityMaxAbs
                             Seconds = seconds } |]
            )

    // ---- Every other T: the Phase-I network with the largest L <= T, converted (no Phase II) ----
    // Phase II calibrates for one T; it runs where Phase I fine-tuned for that T. Each Phase-I
    // network is simulated once, at its largest T, and read out at the smaller ones.
    let uncalibrated =
        p.Evaluate
        |> List.filter (fun t -> not (fineTuned.ContainsKey t))
        |> List.groupBy (fun t -> modelFor t |> Option.map fst |> Option.defaultValue 0)
        |> List.collect (fun (l, ts) ->
            folder.Stage(
                $"phase1-L{l}-T{String.Join('-', ts)}",
                fun () ->
                    let clock = Stopwatch.StartNew()

                    let net, qcAccuracy =
                        match modelFor (List.head ts) with
                        | Some(_, (qc, st)) -> qc, st.TestAccuracy
                        | None -> folded, clipStage.TestAccuracy

                    net.eval ()
                    use snn = convert net
                    let label = if l = 0 then "clip ANN" else $"L={l}"

                    let evaluations =
                        withTask
                            $"T={listOf ts}: Phase I ({label})"
                            nTest
                            (evaluateSnnAt snn ts snnTestBatches (Some "phase1"))

                    let seconds = clock.Elapsed.TotalSeconds / float evaluations.Length

                    [| for t, e in evaluations ->
                           { Entry =
                               { T = t
                                 FineTunedL = l
                                 QcAnnTestAccuracy = qcAccuracy
                                 Snn =
                                   { Direct = nan
                                     Phase1 = e.Accuracy
                                     Potential = nan
                                     Weights = nan
                                     // Without fine-tuning the pipeline ends at the converted clip ANN.
                                     Final = if l = 0 then e.Accuracy else nan }
                                 Layers = e.Layers
                                 Potentials = e.Potentials
                                 SopsPerImage = e.SopsPerImage
                                 FirstLayerMacsPerImage = e.FirstLayerMacsPerImage
                                 EnergyRatio = ratio e t
                                 CalibrationSeconds = 0.0 }
                             IdentityMaxAbs = e.IdentityMaxAbs
                             EvaluationSeconds = seconds } |]
            )
            |> List.ofArray)

    let dual =
        calibrated @ uncalibrated
        |> List.sortBy (fun d -> d.Entry.T)
        |> List.map (fun d ->
            match direct |> Array.tryFind (fun x -> x.T = d.Entry.T) with
            | Some x ->
                { d with
                    Entry =
                        { d.Entry with
                            Snn = { d.Entry.Snn with Direct = x.Accuracy } } }
            | None -> d)

    let annResult (s: AnnStage option) =
        match s with
        | Some s ->
            { TestAccuracy = s.TestAccuracy
              HeldOutAccuracy = s.HeldOutAccuracy
              MacsPerImage = macs }
        | None ->
            { TestAccuracy = nan
              HeldOutAccuracy = nan
              MacsPerImage = macs }

    let results =
        { Profile =
            match experiment.Profile with
            | Quick -> "quick"
            | Bench -> "bench"
            | Paper -> "paper"
            | Custom n -> n
          Seed = seed
          Commit = gitCommit ()
          Experiment = JsonDocument.Parse(json).RootElement.Clone()
          Splits =
            { Dataset = string experiment.Data.Dataset
              Train = train.Count
              HeldOut = splits.HeldOut.Count
              Test = splits.Test.Count
              SnnTest = test.Count
              Calibration = calibrationCount
              EarlyStopping = stoppingCount }
          Ann = annResult reluStage
          ClipAnn = annResult (Some clipStage)
          Qcfs =
            qcfs
            |> Option.map (fun q -> q.Result)
            |> Option.defaultValue
                { L = 0
                  AnnTestAccuracy = nan
                  Snn = [||] }
          DualPhase = dual |> List.map (fun d -> d.Entry) |> Array.ofList
          IdentityMaxAbs =
            (dual |> List.map (fun d -> d.IdentityMaxAbs))
            @ (direct |> Array.map (fun x -> x.IdentityMaxAbs) |> List.ofArray)
            @ (qcfs |> Option.map (fun q -> q.IdentityMaxAbs) |> Option.toList)
            |> List.fold max 0.0
          WallSeconds =
            { Ann = reluStage |> Option.map (fun s -> s.Seconds) |> Option.defaultValue 0.0
              Phase1 = phase1Seconds
              Phase2 = dual |> List.sumBy (fun d -> d.Entry.CalibrationSeconds)
              Qcfs =
                qcfs
                |> Option.map (fun q -> q.TrainSeconds + q.EvaluationSeconds)
                |> Option.defaultValue 0.0
              Evaluation =
                (dual |> List.sumBy (fun d -> d.EvaluationSeconds))
                + (direct |> Array.sumBy (fun x -> x.Seconds))
              Total = total.Elapsed.TotalSeconds }
          Machine =
            $"{Runtime.InteropServices.RuntimeInformation.OSDescription}, {Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}"
          Cores = Environment.ProcessorCount }

    Reporting.Results.save (Path.Combine(root, "results.json")) results
    let plots = Reporting.Plots.writeAll root results
    Reporting.Markdown.save root results plots |> ignore

    for x in calibrationImages do
        x.Dispose()

    for x in stoppingImages do
        x.Dispose()

    disposeAll testBatches
    disposeAll snnTestBatches
    disposeAll heldOutBatches

    for KeyValue(_, (net, _)) in fineTuned do
        net.Dispose()

    if not (obj.ReferenceEquals(folded, clipNet)) then
        folded.Dispose()

    clipNet.Dispose()
    results
