/// The numbers of one run, in the shape of results.json (BENCHMARKS.md's minimal schema plus
/// more keys). Every number here is measured by the run that writes it.
module Snn.Dsl.Reporting.Results

open System.IO
open System.Text.Json
open System.Text.Json.Serialization

/// SNN test accuracy (%) after each stage of the dual-phase method at one T.
type StageAccuracies =
    {
        /// Direct conversion of the Phase-I clip ANN (before QC fine-tuning).
        Direct: float
        /// Conversion of the QC fine-tuned ANN (Phase I complete).
        Phase1: float
        /// After the first potential calibration (Phase II a).
        Potential: float
        /// After layer-wise weight calibration (Phase II b).
        Weights: float
        /// After the second potential calibration (Phase II c): the final SNN.
        Final: float
    }

/// Per-layer error anatomy of one stage, averaged over the evaluated images.
type LayerErrors =
    { Name: string
      Stage: string
      ResidualMeanAbs: float
      QuantizationMeanAbs: float
      ClippingMeanAbs: float
      ResidualMean: float
      QuantizationMean: float
      ClippingMean: float
      TotalMeanAbs: float
      NegativeShare: float
      OverflowShare: float
      Threshold: float }

/// Histogram of v(T)/theta for one layer and stage: counts of neurons in equal bins on [Low, High],
/// with values outside clamped into the first and last bins.
type PotentialHistogram =
    { Name: string
      Stage: string
      Low: float
      High: float
      Counts: int64[] }

/// One SNN evaluation at a T, in pipeline order: what had been done to the network, and its accuracy.
type StageRow =
    {
        Label: string
        Accuracy: float
        /// Evaluated on a copy (an ablation row).
        Probe: bool
    }

/// The QC ANN at L as one step left it: the fine-tune that made it, then each step that trained
/// it further (distillQC), in pipeline order.
type QcAnnStage =
    {
        /// "noisy-QC fine-tune", or the label of the step that trained it further.
        Label: string
        TestAccuracy: float
        HeldOutAccuracy: float
    }

type DualPhaseEntry =
    {
        T: int
        /// L of the QC fine-tuned model used at this T.
        FineTunedL: int
        /// The QC ANN as the pipeline left it (the last of QcAnnStages).
        QcAnnTestAccuracy: float
        /// The QC ANN at FineTunedL after each step that trained it, in pipeline order. Null in a
        /// results.json written before they were kept.
        QcAnnStages: QcAnnStage[]
        Snn: StageAccuracies
        Layers: LayerErrors[]
        Potentials: PotentialHistogram[]
        SopsPerImage: float
        FirstLayerMacsPerImage: float
        EnergyRatio: float
        /// Phase II wall time at this T, seconds.
        CalibrationSeconds: float
        /// Every SNN evaluation at this T, in pipeline order (custom steps' rows included).
        Stages: StageRow[]
    }

type QcfsPoint =
    {
        T: int
        TestAccuracy: float
        SopsPerImage: float
        EnergyRatio: float
        /// Per-layer error anatomy of the QCFS SNN at this T.
        Layers: LayerErrors[]
    }

/// A learned threshold |theta| of one layer.
type ThresholdEntry = { Layer: string; Threshold: float }

type QcfsResult =
    { L: int
      AnnTestAccuracy: float
      Thresholds: ThresholdEntry[]
      Snn: QcfsPoint[] }

type AnnResult =
    { TestAccuracy: float
      HeldOutAccuracy: float
      MacsPerImage: float }

type Splits =
    {
        Dataset: string
        Train: int
        HeldOut: int
        Test: int
        /// Images of the test split used for SNN evaluation (all of them unless the profile says otherwise).
        SnnTest: int
        Calibration: int
        EarlyStopping: int
    }

type WallSeconds =
    { Ann: float
      Phase1: float
      Phase2: float
      Qcfs: float
      Evaluation: float
      Total: float }

/// The data a run read.
type DataRecord =
    {
        Dataset: string
        Folder: string
        /// SHA-256 over the dataset's files (see RunData).
        Identity: string
    }

/// The confidence interval of one accuracy of this file.
type AccuracyInterval =
    {
        /// Where the accuracy is in results.json, e.g. "dual_phase[t=1].snn.final".
        Key: string
        /// What the report calls it.
        Label: string
        /// T of an SNN accuracy; 0 for an ANN.
        T: int
        /// Test (or held-out) accuracy, %.
        Accuracy: float
        /// Images it was measured on, and how many of them were classified right.
        Images: int
        Correct: int
        /// The exact (Clopper-Pearson) interval's bounds, %: the interval the report shows.
        Low: float
        High: float
        /// The Wilson score interval's bounds, %, for comparison with papers that quote it.
        WilsonLow: float
        WilsonHigh: float
    }

/// Two evaluations compared image by image on the same test images (exact McNemar test).
type PairedComparison =
    {
        T: int
        /// The earlier stage (or the QCFS SNN) and the stage compared with it, as the report names them.
        Baseline: string
        Candidate: string
        BaselineAccuracy: float
        CandidateAccuracy: float
        Images: int
        /// Images only the baseline classified right (b), and only the candidate (c).
        BaselineOnly: int
        CandidateOnly: int
        /// Two-sided exact p-value (0 where it is below about 1e-308; Log10PValue still holds it).
        PValue: float
        Log10PValue: float
    }

/// Confidence intervals of every accuracy and the paired tests of the comparisons the report makes.
type RunStatistics =
    {
        /// Confidence level of the intervals (0.95).
        Confidence: float
        IntervalMethod: string
        PairedTest: string
        Accuracies: AccuracyInterval[]
        /// At each T, every SNN evaluation against the one before it in pipeline order (direct
        /// conversion, Phase I, + potential, + weights, final, then any later step's row).
        Stages: PairedComparison[]
        /// At each T, the dual-phase SNN as the pipeline left it against the QCFS SNN.
        VersusQcfs: PairedComparison[]
        /// At each T, the dual-phase SNN as the pipeline left it against the ANN it was converted
        /// from (its QC ANN as it was at conversion), on the SNN test images. Null in results
        /// written before it was kept; empty where the ANN's record has no per-image results.
        VersusSource: PairedComparison[]
        /// Comparisons that could not be made, and why.
        Notes: string[]
    }

/// An ANN imported from ONNX by the importAnn step (docs/IMPORT.md): the baseline the run's SNNs
/// are compared with. RunResults.Imported holds one when the run's ANN (RunResults.Ann) was
/// imported, none when it was trained here.
type ImportedAnn =
    {
        OnnxFile: string
        /// SHA-256 of the model file, lower-case hex.
        Sha256: string
        Producer: string
        OpsetVersion: int64
        /// Nodes of the ONNX graph.
        Nodes: int
        Parameters: int64
        /// The importer's warnings (a MaxPool replaced, a BN exported in training mode, ...).
        Warnings: string[]
        /// Test images whose logits were compared with ONNX Runtime's (0: not compared).
        ComparedImages: int
        /// max |imported network's logit - ONNX Runtime's| over those images (NaN: not compared).
        MaxAbsLogitDiff: float
        /// Reading the model and building the network, seconds.
        ImportSeconds: float
    }

type RunResults =
    {
        Profile: string
        Seed: int
        Commit: string
        Experiment: JsonElement
        Data: DataRecord
        Splits: Splits
        Ann: AnnResult
        /// The ANN imported from ONNX (docs/IMPORT.md), empty when the ANN was trained here.
        Imported: ImportedAnn[]
        ClipAnn: AnnResult
        Qcfs: QcfsResult
        DualPhase: DualPhaseEntry[]
        IdentityMaxAbs: float
        WallSeconds: WallSeconds
        Machine: string
        Cores: int
        /// Null in a results.json written before statistics were kept.
        Statistics: RunStatistics
    }

/// snake_case JSON with indentation, as in BENCHMARKS.md.
let jsonOptions =
    let o =
        JsonSerializerOptions(PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true)

    o.NumberHandling <- JsonNumberHandling.AllowNamedFloatingPointLiterals
    o

/// The results as results.json's text.
let jsonText (results: RunResults) =
    JsonSerializer.Serialize(results, jsonOptions)

/// Writes results.json atomically (Snn.Core AtomicFile: a temporary file, flushed, then renamed;
/// removed when the write fails).
let save (path: string) (results: RunResults) =
    Snn.Core.Checkpoints.AtomicFile.WriteAllText(path, jsonText results)

/// Reads a results.json written by `save`.
let load (path: string) : RunResults =
    JsonSerializer.Deserialize<RunResults>(File.ReadAllText path, jsonOptions)
