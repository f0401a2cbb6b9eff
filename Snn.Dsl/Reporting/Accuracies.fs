/// Every accuracy of a run's results, each with where it is in results.json, what the report calls
/// it and how many images it was measured on: what the confidence intervals and the summary over
/// seeds are computed for.
module Snn.Dsl.Reporting.Accuracies

open System
open Snn.Dsl.Reporting.Results

/// One accuracy (%) of a RunResults.
type Accuracy =
    {
        /// Where it is in results.json, e.g. "dual_phase[t=1].snn.final" (stable across seeds).
        Key: string
        /// What the report calls it.
        Label: string
        /// T of an SNN accuracy; 0 for an ANN.
        T: int
        Accuracy: float
        /// Images it was measured on.
        Images: int
    }

/// The keys of the dual-phase stage columns of results.json and their names in the report.
let stageColumns =
    [ "direct", "direct", (fun (s: StageAccuracies) -> s.Direct)
      "phase1", "Phase I", _.Phase1
      "potential", "+ potential", _.Potential
      "weights", "+ weights", _.Weights
      "final", "dual-phase final", _.Final ]

/// Key of a dual-phase figure at T.
let dualPhaseKey (t: int) (name: string) = $"dual_phase[t=%d{t}].%s{name}"

/// The QC ANN at T after each step that trained it, where more than one did (a distillation after
/// the fine-tune): key, label and accuracy per stage and split.
let qcAnnStages (d: DualPhaseEntry) =
    match d.QcAnnStages with
    | null -> []
    | stages when stages.Length < 2 -> []
    | stages ->
        [ for i, s in Array.indexed stages do
              let key = dualPhaseKey d.T $"qc_ann_stages[%d{i}]"
              let label = $"QC ANN (L = %d{d.FineTunedL}) after %s{s.Label}"
              yield $"%s{key}.test_accuracy", label, s.TestAccuracy, false
              yield $"%s{key}.held_out_accuracy", $"%s{label} (held-out)", s.HeldOutAccuracy, true ]

/// Key of the QCFS SNN's accuracy at T.
let qcfsKey (t: int) = $"qcfs.snn[t=%d{t}].test_accuracy"

/// Every accuracy the results hold (figures a run did not produce, NaN, left out): the ANNs on the
/// test and held-out splits, the QCFS QC ANN and SNN, and at each T the QC ANN (after each step
/// that trained it, where several did), the stage columns and every evaluation row.
let ofResults (r: RunResults) : Accuracy list =
    let annEntries key label (a: AnnResult) =
        [ { Key = $"%s{key}.test_accuracy"
            Label = label
            T = 0
            Accuracy = a.TestAccuracy
            Images = r.Splits.Test }
          { Key = $"%s{key}.held_out_accuracy"
            Label = $"%s{label} (held-out)"
            T = 0
            Accuracy = a.HeldOutAccuracy
            Images = r.Splits.HeldOut } ]

    let snn key label t accuracy =
        { Key = key
          Label = label
          T = t
          Accuracy = accuracy
          Images = r.Splits.SnnTest }

    let dualPhase (d: DualPhaseEntry) =
        let qcAnn =
            { Key = dualPhaseKey d.T "qc_ann_test_accuracy"
              Label = $"QC ANN (L = %d{d.FineTunedL})"
              T = d.T
              Accuracy = d.QcAnnTestAccuracy
              Images = r.Splits.Test }

        let columns =
            [ for name, label, get in stageColumns -> snn (dualPhaseKey d.T $"snn.%s{name}") label d.T (get d.Snn) ]

        let stages =
            [ for i, s in Array.indexed d.Stages -> snn (dualPhaseKey d.T $"stages[%d{i}]") s.Label d.T s.Accuracy ]

        let qcStages =
            [ for key, label, accuracy, heldOut in qcAnnStages d ->
                  { Key = key
                    Label = label
                    T = d.T
                    Accuracy = accuracy
                    Images = if heldOut then r.Splits.HeldOut else r.Splits.Test } ]

        qcAnn :: qcStages @ columns @ stages

    let qcfsAnn =
        { Key = "qcfs.ann_test_accuracy"
          Label = $"QCFS QC ANN (L = %d{r.Qcfs.L})"
          T = 0
          Accuracy = r.Qcfs.AnnTestAccuracy
          Images = r.Splits.Test }

    annEntries "ann" "ReLU ANN" r.Ann
    @ annEntries "clip_ann" "Phase-I clip ANN" r.ClipAnn
    @ [ qcfsAnn ]
    @ [ for q in r.Qcfs.Snn -> snn (qcfsKey q.T) "QCFS SNN" q.T q.TestAccuracy ]
    @ (r.DualPhase |> Array.sortBy _.T |> List.ofArray |> List.collect dualPhase)
    |> List.filter (fun a -> not (Double.IsNaN a.Accuracy))
