/// What steps measure, as typed records: kept in each step's record in the run folder and read
/// by the report step. Every number here is measured by the run that holds it.
namespace Snn.Dsl.Pipeline

open System.Text.Json
open System.Text.Json.Nodes
open System.Text.Json.Serialization
open Snn.Dsl.Json
open Snn.Dsl.Reporting.Results

/// A learned threshold |theta| of one activation layer.
type NamedThreshold = { Layer: string; Threshold: float }

/// One finished training epoch.
type EpochRecord =
    {
        Epoch: int
        TrainLoss: float
        TrainAccuracy: float
        /// The learning rate at the epoch's first step (the schedule gives one per step).
        LearningRate: float
        Seconds: float
    }

/// A trained (or fine-tuned) ANN: its accuracies, thresholds and training history.
type AnnRecord =
    {
        Ann: Ann
        TestAccuracy: float
        HeldOutAccuracy: float
        /// Training time of every epoch, including epochs run before a resume.
        Seconds: float
        Thresholds: NamedThreshold[]
        History: EpochRecord[]
        /// Test images the test accuracy was measured on (0 in records written before it was kept).
        TestImages: int
        /// Which of those images (in the split's order) were classified right: PerImage's base64
        /// bitset, for paired tests against the SNNs. Null in records written before it was kept.
        TestPerImageCorrect: string
    }

/// One SNN evaluation at one T.
type EvaluationRow =
    {
        T: int
        /// The ANN the spiking network was converted from.
        Source: Ann
        /// The T the spiking network was made for (None: an ANN converted as is, e.g. direct
        /// conversion of the clip ANN).
        MadeFor: int option
        /// What was done to the spiking network since conversion.
        Lineage: LineageEntry list
        /// Images evaluated.
        Images: int
        Accuracy: float
        /// Per-layer error anatomy (empty when the step did not record it).
        Layers: LayerErrors[]
        Potentials: PotentialHistogram[]
        SopsPerImage: float
        FirstLayerMacsPerImage: float
        /// E_ANN / E_SNN at this T (PAPER.md's energy model, MACs of the source ANN).
        EnergyRatio: float
        IdentityMaxAbs: float
        Seconds: float
        /// Evaluated on a modified copy (an ablation); the network itself was not changed.
        Probe: bool
        /// Which of the Images test images (in the split's order) were classified right:
        /// PerImage's base64 bitset, for paired tests. Null in records written before it was kept.
        PerImageCorrect: string
        /// The sums the figures above are made of (merged exactly over shards by `snn merge`).
        Tally: EvaluationTally option
    }

/// What one layer-wise Phase II pass did to the spiking network for T.
type PhaseTwoRecord =
    {
        T: int
        Operations: LayerOperation list
        /// Held-out images the layer steps calibrated on (the largest count of any of them).
        CalibrationImages: int
        /// Held-out images after those used for early stopping (the largest count).
        EarlyStoppingImages: int
        Seconds: float
        Log: string[]
    }

/// The QCFS baseline: its QC ANN and its SNN at every T (one simulation, read out on the way).
type QcfsRecord =
    { Levels: int
      Ann: AnnRecord
      Points: EvaluationRow[] }

/// One record of a step.
type Record =
    | AnnTrained of AnnRecord
    | SnnEvaluated of EvaluationRow
    | PhaseTwoDone of PhaseTwoRecord
    | QcfsEvaluated of QcfsRecord
    /// A record of a step defined outside the library: its name and any JSON.
    | CustomRecord of step: string * value: JsonNode

/// System.Text.Json converter for a type with a codec.
type CodecConverter<'T>(codec: Codec<'T>) =
    inherit JsonConverter<'T>()

    override _.Read(reader, _, _) =
        let node = JsonNode.Parse(&reader)

        match codec.Decode "record" node with
        | Ok v -> v
        | Error es -> raise (JsonException(es |> List.map _.Message |> String.concat "; "))

    override _.Write(writer, value, _) = (codec.Encode value).WriteTo writer

module Records =

    /// snake_case JSON with the pipeline's typed keys; NaN for figures a run did not produce.
    let jsonOptions =
        let o = JsonSerializerOptions(Snn.Dsl.Reporting.Results.jsonOptions)
        o.Converters.Add(CodecConverter<Ann>(ArtifactCodec.ann))
        o.Converters.Add(CodecConverter<LayerOperation list>(ArtifactCodec.layerOperations))
        o.Converters.Add(CodecConverter<LineageEntry list>(ArtifactCodec.lineage))
        o

    let private stj<'T> : Codec<'T> =
        { Encode = fun x -> JsonSerializer.SerializeToNode(x, jsonOptions)
          Expected = typeof<'T>.Name
          Decode =
            fun path n ->
                try
                    Ok(JsonSerializer.Deserialize<'T>(n, jsonOptions))
                with :? JsonException as e ->
                    Codec.fail path $"not a valid %s{typeof<'T>.Name} (%s{e.Message})" }

    let private anyJson: Codec<JsonNode> =
        { Encode = fun (n: JsonNode) -> if isNull n then null else n.DeepClone()
          Decode = fun _ (n: JsonNode) -> Ok(if isNull n then null else n.DeepClone())
          Expected = "any JSON" }

    let private value name (wrap: 'R -> Record) (unwrap: Record -> 'R option) =
        Tagged.case name (Codec.record id |> Codec.field "value" id stj<'R>) wrap unwrap

    /// A record as a tagged JSON object.
    let codec: Codec<Record> =
        Tagged.codec
            "kind"
            "a step record"
            [ value "ann" AnnTrained (function
                  | AnnTrained r -> Some r
                  | _ -> None)
              value "evaluation" SnnEvaluated (function
                  | SnnEvaluated r -> Some r
                  | _ -> None)
              value "phase_two" PhaseTwoDone (function
                  | PhaseTwoDone r -> Some r
                  | _ -> None)
              value "qcfs" QcfsEvaluated (function
                  | QcfsEvaluated r -> Some r
                  | _ -> None)
              Tagged.case
                  "custom"
                  (Codec.record (fun s v -> s, v)
                   |> Codec.field "step" fst Codec.string
                   |> Codec.field "value" snd anyJson)
                  CustomRecord
                  (function
                   | CustomRecord(s, v) -> Some(s, v)
                   | _ -> None) ]
