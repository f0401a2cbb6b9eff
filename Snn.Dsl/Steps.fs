/// The pipeline DSL: PAPER.md's steps by name, with the paper's defaults. A pipeline is a list of
/// steps run in the order written; each step's module (Snn.Dsl.Pipeline.Steps.*) has its
/// `Parameters` record and `defaults` for any other setting:
/// `FineTuneQC.step ...` or `Step.create FineTuneQC.definition { FineTuneQC.defaults with FitThresholds = false }`.
module Snn.Dsl.Steps

open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps

/// The time steps every report evaluates: 1, 2, 4, 8, 16, 32.
let defaultTimeSteps = [ 1; 2; 4; 8; 16; 32 ]

/// The ReLU ANN baseline, trained for this many epochs (SGD momentum 0.9, lr 0.05, weight decay 5e-4, cosine, batch 128).
let trainRelu epochs = TrainRelu.step epochs

/// Phase I step 1: the clip ANN (threshold init 5.0), trained for this many epochs with the same recipe.
let trainClip epochs = TrainClip.step epochs

/// The experiment's ONNX model (network {"onnx": "model.onnx"}) as the ReLU ANN, instead of
/// trainRelu: checked against ONNX Runtime on 512 test images, its accuracies recorded.
let importAnn = ImportAnn.step

/// Phase I's clip ANN from the ReLU ANN (imported or trained), instead of trainClip: the same
/// weights, theta_l the `percentile`-th percentile (e.g. 99.9) of 1,024 training images' positive
/// pre-activations, or the bounded ReLU's maximum where the ANN has one.
let clipFromRelu percentile = ClipFromRelu.step percentile

/// The clip ANN trained on for this many epochs from its weights and thresholds (lr 1e-3).
let fineTuneClip epochs = FineTuneClip.step epochs

/// Phase I step 2: the clip ANN's batch norm folded.
let foldBatchNorm = FoldBatchNorm.step

/// Phase I step 3: noisy-QC fine-tuning at L = T for each T (lr 1e-3, no weight decay, p = 0.1), fitted start thresholds.
let fineTuneQC (timeSteps: int list) epochs = FineTuneQC.step timeSteps epochs

/// Phase I with knowledge distillation: the QC ANNs at L = T for each T trained on for this many
/// epochs on (1 - alpha) CE + alpha tau^2 KL(teacher || student) from the ReLU ANN (tau = 4,
/// alpha = 0.9, fineTuneQC's optimizer and noise); a QC ANN no earlier step made is started from
/// the folded clip ANN as fineTuneQC starts it (issue 16's technique beyond PAPER.md).
let distillQC (timeSteps: int list) epochs = DistillQC.step timeSteps epochs

/// Each QC ANN converted to the spiking network for T = L (v(0) = theta / 2).
let convert = Conversion.step

/// The spiking networks evaluated at these T, with the error anatomy.
let evaluate (timeSteps: int list) = Evaluate.step timeSteps

/// The folded clip ANN converted as it is (direct conversion), evaluated at these T.
let evaluateDirect (timeSteps: int list) = Evaluate.direct timeSteps

/// Phase II a / c: potential calibration on 1,024 held-out images.
let calibratePotential = CalibratePotential.step 1024

/// Phase II b: layer-wise weight calibration (Adam lr 1e-4, alpha 2.5, 1,024 + 256 held-out images).
let calibrateWeights = CalibrateWeights.step

/// Phase II: these layer steps, layer by layer, on every spiking network.
let phaseTwo (steps: ILayerStep list) = PhaseTwo.step steps

/// Each prefix of these layer steps on a copy of every spiking network, evaluated at its T.
let ablation (steps: ILayerStep list) = Ablation.step steps

/// Every spiking network fine-tuned end to end at its T (surrogate BPTT, Adam lr 1e-4), the best
/// epoch by held-out accuracy kept (issue 16's technique beyond PAPER.md).
let fineTuneSnn epochs = FineTuneSnn.step epochs

/// The QCFS baseline (L = 4, theta0 = 8) trained for this many epochs, evaluated at T = 1..32.
let qcfs epochs = Qcfs.step epochs

/// results.json, report.md and the plots.
let report = Report.step

/// The dual-phase pipeline with `phaseOne`'s steps making the QC ANNs at L = T for each T in
/// `fineTuneTimeSteps`.
let private dualPhaseWith epochs (phaseOne: IStep list) (fineTuneTimeSteps: int list) =
    [ trainRelu epochs
      trainClip epochs
      foldBatchNorm
      evaluateDirect defaultTimeSteps
      yield! phaseOne
      convert
      evaluate defaultTimeSteps
      ablation [ calibratePotential; calibrateWeights ]
      phaseTwo [ calibratePotential; calibrateWeights; calibratePotential ]
      evaluate fineTuneTimeSteps
      qcfs epochs
      report ]

/// BENCHMARKS.md's experiment: the ReLU baseline (E epochs), clip training (E), batch-norm
/// folding, direct conversion evaluated, noisy-QC fine-tuning at L = T for each target T
/// (F epochs each), conversion, Phase I evaluated at every T, the Phase II ablation, Phase II
/// (a, b, c), the final SNNs evaluated at their T, the QCFS baseline (E epochs), and the report.
let dualPhase epochs fineTuneEpochs (fineTuneTimeSteps: int list) =
    dualPhaseWith epochs [ fineTuneQC fineTuneTimeSteps fineTuneEpochs ] fineTuneTimeSteps

/// Phase I's QC ANNs at L = T for each T with knowledge distillation: fineTuneQC for
/// `fineTuneEpochs` (none at 0), those QC ANNs converted and evaluated at their T (the report's
/// rows before distillation), then distillQC from the ReLU ANN for `distillEpochs` (starting the
/// QC ANNs from the folded clip ANN where no fineTuneQC ran). The fine-tune budget per T is
/// fineTuneEpochs + distillEpochs.
let distilledQC fineTuneEpochs distillEpochs (timeSteps: int list) =
    [ if fineTuneEpochs > 0 then
          fineTuneQC timeSteps fineTuneEpochs
          convert
          evaluate timeSteps
      distillQC timeSteps distillEpochs ]

/// dualPhase with distilledQC in place of fineTuneQC (issue 16): E epochs of ReLU and clip
/// training, F = fineTuneEpochs + distillEpochs epochs of Phase I fine-tuning per T, then as
/// dualPhase.
let dualPhaseDistilled epochs fineTuneEpochs distillEpochs (fineTuneTimeSteps: int list) =
    dualPhaseWith epochs (distilledQC fineTuneEpochs distillEpochs fineTuneTimeSteps) fineTuneTimeSteps

/// The dual-phase pipeline from an imported ANN (network {"onnx": "model.onnx"}): the imported
/// ReLU ANN, the clip ANN from its activation statistics (99.9th percentile), `clipEpochs` of clip
/// fine-tuning (0: none), then as dualPhase: batch-norm folding, direct conversion, noisy-QC
/// fine-tuning at L = T (F epochs each), conversion, Phase I evaluated, the Phase II ablation,
/// Phase II, the final SNNs, and the report. No QCFS baseline: it would train a network from
/// initial weights, which an imported model is there to avoid.
let importedDualPhase clipEpochs fineTuneEpochs (fineTuneTimeSteps: int list) =
    [ importAnn
      clipFromRelu ClipFromRelu.defaults.Percentile
      if clipEpochs > 0 then
          fineTuneClip clipEpochs
      foldBatchNorm
      evaluateDirect defaultTimeSteps
      fineTuneQC fineTuneTimeSteps fineTuneEpochs
      convert
      evaluate defaultTimeSteps
      ablation [ calibratePotential; calibrateWeights ]
      phaseTwo [ calibratePotential; calibrateWeights; calibratePotential ]
      evaluate fineTuneTimeSteps
      report ]
