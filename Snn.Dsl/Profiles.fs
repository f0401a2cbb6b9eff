/// The profiles of BENCHMARKS.md for the fmnist-vgg experiment, and a smoke-test profile.
module Snn.Dsl.Profiles

open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps
open Snn.Dsl.Steps

let private fmnist profile folder trainImages testImages pipeline =
    { Name = "fmnist-vgg"
      Data =
        { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
          Path = None
          TrainImages = trainImages
          TestImages = testImages
          HeldOut = None
          EvalBatchSize = None }
      Network = PresetNetwork FmnistVgg
      Pipeline = pipeline
      Seed = 0
      Seeds = []
      OutputFolder = folder
      Profile = profile
      Device = "cpu" }

/// Phase II layer steps with fewer images and one weight-calibration epoch per layer: potential
/// calibration on `potentialImages`, weight calibration on `calibrationImages` + `stoppingImages`.
let smallPhaseTwo potentialImages calibrationImages stoppingImages =
    let potential = CalibratePotential.step potentialImages

    let weights =
        LayerStep.create
            CalibrateWeights.definition
            { CalibrateWeights.defaults with
                Epochs = 1
                CalibrationImages = calibrationImages
                EarlyStoppingImages = stoppingImages }

    potential, weights

/// BENCHMARKS.md's pipeline with smaller Phase II steps and `phaseOne`'s QC ANNs.
let private phaseOneWithPhaseTwo
    epochs
    (phaseOne: IStep list)
    targets
    evaluated
    (potential: ILayerStep)
    (weights: ILayerStep)
    =
    [ trainRelu epochs
      trainClip epochs
      foldBatchNorm
      evaluateDirect evaluated
      yield! phaseOne
      convert
      evaluate evaluated
      ablation [ potential; weights ]
      phaseTwo [ potential; weights; potential ]
      evaluate targets
      Step.create
          Qcfs.definition
          { Qcfs.defaults with
              Epochs = epochs
              TimeSteps = evaluated }
      report ]

/// BENCHMARKS.md's pipeline with smaller Phase II steps.
let private withPhaseTwo epochs fineTuneEpochs targets evaluated potential weights =
    phaseOneWithPhaseTwo epochs [ fineTuneQC targets fineTuneEpochs ] targets evaluated potential weights

/// `quick`, the README's default run, budgeted for at most 25 minutes on 2 cores: the first
/// 10,000 of the 55,000 training images; ReLU, clip and QCFS training 2 epochs each; noisy-QC
/// fine-tuning 1 epoch per T in {1, 2, 4}; Phase II at those T with 256 calibration and 128
/// early-stopping images (held-out split) and 1 weight-calibration epoch per layer; ANNs evaluated
/// on the full test set, SNNs (T in {1, ..., 32}) on the first 1,000 test images.
let quick =
    let potential, weights = smallPhaseTwo 256 256 128
    fmnist Quick "runs/quick" (Some 10000) (Some 1000) (withPhaseTwo 2 1 [ 1; 2; 4 ] defaultTimeSteps potential weights)

/// `bench`, the comparison profile: all 55,000 training images, E = 10, F = 3.
let bench = fmnist Bench "runs/bench" None None (dualPhase 10 3 [ 1; 2; 4 ])

/// `paper`: all 55,000 training images, E = 30, F = 10.
let paper = fmnist Paper "runs/paper" None None (dualPhase 30 10 [ 1; 2; 4 ])

/// `tiny`, a smoke test of the whole pipeline in a few minutes (its numbers mean nothing): 1,024
/// training images, 512 test images, one epoch of everything, T in {1, 2}, Phase II with 256
/// calibration and 128 early-stopping images and one weight-calibration epoch.
let tiny =
    let potential, weights = smallPhaseTwo 256 256 128
    fmnist (Custom "tiny") "runs/tiny" (Some 1024) (Some 512) (withPhaseTwo 1 1 [ 1; 2 ] [ 1; 2 ] potential weights)

/// `quick` with Phase I's one fine-tune epoch per T spent on distillQC from the ReLU ANN (the QC
/// ANNs started from the folded clip ANN as fineTuneQC starts them): the same budget, F = 1.
let quickDistill =
    let potential, weights = smallPhaseTwo 256 256 128

    fmnist
        (Custom "quick-distill")
        "runs/quick-distill"
        (Some 10000)
        (Some 1000)
        (phaseOneWithPhaseTwo 2 (distilledQC 0 1 [ 1; 2; 4 ]) [ 1; 2; 4 ] defaultTimeSteps potential weights)

/// `bench` with Phase I's F = 3 epochs per T split into 2 of fineTuneQC and 1 of distillQC from
/// the ReLU ANN, the SNNs of the fine-tuned QC ANNs evaluated at T = 1, 2, 4 before distillation
/// (Steps.dualPhaseDistilled): the report's rows show what distillation buys.
let benchDistill =
    fmnist (Custom "bench-distill") "runs/bench-distill" None None (dualPhaseDistilled 10 2 1 [ 1; 2; 4 ])

/// `quick`'s sizes for a fmnist-vgg imported from ONNX (docs/IMPORT.md; network
/// {"onnx": onnxFile}): the imported ANN (checked against ONNX Runtime), the clip ANN from the
/// 99.9th percentile of 1,024 training images' activations, 1 epoch of clip fine-tuning and 1 of
/// noisy-QC fine-tuning per T in {1, 2, 4} on the first 10,000 training images, Phase II with
/// quick's small steps, SNNs (T in {1, ..., 32}) on the first 1,000 test images; no QCFS baseline
/// (Steps.importedDualPhase). docs/examples/imported-fmnist-vgg.json is this experiment.
let importedQuick (onnxFile: string) =
    let potential, weights = smallPhaseTwo 256 256 128
    let targets = [ 1; 2; 4 ]

    { fmnist
          (Custom "imported-quick")
          "runs/imported-quick"
          (Some 10000)
          (Some 1000)
          [ importAnn
            clipFromRelu ClipFromRelu.defaults.Percentile
            fineTuneClip 1
            foldBatchNorm
            evaluateDirect defaultTimeSteps
            fineTuneQC targets 1
            convert
            evaluate defaultTimeSteps
            ablation [ potential; weights ]
            phaseTwo [ potential; weights; potential ]
            evaluate targets
            report ] with
        Name = "imported-fmnist-vgg"
        Network =
            OnnxNetwork
                { File = onnxFile
                  ReplaceMaxPool = false } }

/// The named profiles, by their command-line names.
let named =
    [ "quick", quick
      "bench", bench
      "paper", paper
      "tiny", tiny
      "quick-distill", quickDistill
      "bench-distill", benchDistill ]
