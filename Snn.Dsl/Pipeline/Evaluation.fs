/// Evaluation of spiking networks: one simulation at the largest T read out at every smaller T,
/// accuracy, the exact per-layer error anatomy, v(T) histograms, SOPs and the identity check.
module Snn.Dsl.Pipeline.Evaluation

open TorchSharp
open Snn.Core.Simulation
open Snn.Core.Errors
open Snn.Core.Energy
open Snn.Dsl
open Snn.Dsl.Reporting.Results

type Tensor = torch.Tensor

/// The identity r = z + (v(0) - v(T))/T must hold to this absolute tolerance in every evaluation.
[<Literal>]
let IdentityTolerance = 1e-4

/// Bins of the v(T)/theta histograms on [-1, 2].
[<Literal>]
let PotentialBins = 30

/// Evaluation of a spiking network on a set of batches at one T.
type SnnEvaluation =
    {
        Accuracy: float
        Layers: LayerErrors[]
        Potentials: PotentialHistogram[]
        SopsPerImage: float
        FirstLayerMacsPerImage: float
        IdentityMaxAbs: float
        /// Per test image, in the order evaluated: classified right.
        PerImageCorrect: bool[]
    }

let private term (s: Snn.Core.Errors.ErrorTermSums) =
    { AbsoluteSum = ExactSum.Of s.AbsoluteSum
      SignedSum = ExactSum.Of s.SignedSum }

let private sums (s: LayerErrorSummary) =
    term s.Residual, term s.Quantization, term s.Clipping, term s.Total

/// The tally of one batch's simulation result read out at its T.
let private batchTally
    (names: string[])
    (stage: string option)
    (macs: float)
    (result: SimulationResult)
    (labels: Tensor)
    : EvaluationTally =
    let t = result.TimeSteps
    let mutable sops = ExactSum.Zero
    let mutable analog = ExactSum.Zero
    let layers = ResizeArray<LayerTally>()

    for layer in result.Layers do
        // Per-layer sums in layer order, each term exact: the grouping does not matter.
        sops <- sops + ExactSum.Of layer.SynapticOperations
        analog <- analog + ExactSum.Of layer.AnalogOperations

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

            let residual, quantization, clipping, total = sums s

            let threshold, histogram =
                match stage with
                | None -> 0.0, [||]
                | Some _ ->
                    // Bin v(T)/theta on [-1, 2] into PotentialBins equal bins (outside values clamp to the end bins).
                    let ratio = layer.FinalPotential / layer.Threshold

                    let bins =
                        ((ratio + 1.0) * (float PotentialBins / 3.0))
                            .floor()
                            .clamp ((0.0).ToScalar(), (float (PotentialBins - 1)).ToScalar())

                    layer.Threshold.mean().item<float32> () |> float,
                    torch
                        .bincount(bins.to_type(torch.ScalarType.Int64).flatten (), minlength = int64 PotentialBins)
                        .cpu()
                        .data<int64>()
                        .ToArray()

            layers.Add
                { Name = names[layers.Count]
                  Count = s.Count
                  Residual = residual
                  Quantization = quantization
                  Clipping = clipping
                  Total = total
                  Negative = s.NegativeCount
                  Overflow = s.OverflowCount
                  MaxIdentityDeviation = s.MaxIdentityDeviation
                  Threshold = threshold
                  Histogram = histogram }

    let hits = result.Output.argmax(1L).eq(labels).cpu().data<bool>().ToArray()

    { T = t
      Correct = hits |> Array.sumBy (fun h -> if h then 1L else 0L)
      Seen = labels.shape[0]
      Sops = sops
      Analog = analog
      Macs = macs
      Stage = stage
      Layers = layers.ToArray()
      PerImageCorrect = PerImage.encode hits }

/// The figures of a tally; fails loudly when the identity r = z + (v(0) - v(T))/T is violated by
/// more than IdentityTolerance in any layer.
let finish (tally: EvaluationTally) : SnnEvaluation =
    let t = tally.T

    let identity =
        tally.Layers |> Array.map _.MaxIdentityDeviation |> Array.fold max 0.0

    if identity > IdentityTolerance then
        failwithf
            "the identity r = z + (v(0) - v(T))/T is violated by %g (> %g) at T = %d: the simulation is wrong"
            identity
            IdentityTolerance
            t

    let summary (l: LayerTally) =
        let term (s: TermTally) =
            Snn.Core.Errors.ErrorTermSums(s.AbsoluteSum.Value, s.SignedSum.Value)

        LayerErrorSummary(
            l.Count,
            term l.Residual,
            term l.Quantization,
            term l.Clipping,
            term l.Total,
            l.Negative,
            l.Overflow,
            l.MaxIdentityDeviation
        )

    let seen = float (max 1L tally.Seen)

    { Accuracy = 100.0 * float tally.Correct / seen
      Layers =
        match tally.Stage with
        | None -> [||]
        | Some stage ->
            tally.Layers
            |> Array.map (fun l ->
                let s = summary l

                { Name = l.Name
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
                  Threshold = l.Threshold })
      Potentials =
        match tally.Stage with
        | None -> [||]
        | Some stage ->
            tally.Layers
            |> Array.map (fun l ->
                { Name = l.Name
                  Stage = stage
                  Low = -1.0
                  High = 2.0
                  Counts = Array.copy l.Histogram })
      SopsPerImage = tally.Sops.Value / seen
      FirstLayerMacsPerImage = tally.Analog.Value / seen / float t
      IdentityMaxAbs = identity
      PerImageCorrect = Tally.hits tally }

/// Runs the SNN on the batches once, at the largest T of `ts`, and reads every smaller T of `ts`
/// out on the way (a readout at t equals a run with T = t: the dynamics are causal and v(0) does
/// not depend on T). Per T, the tally of the batches: accuracy, SOPs and the identity check; with
/// `record`, also the per-layer error anatomy (stage label `record`) and v(T)/theta histograms.
/// `macs` are the source ANN's MACs per image (kept in the tally for the energy ratio).
let tallySnnAt
    (snn: SpikingNetwork)
    (ts: int list)
    (macs: float)
    (batches: seq<Tensor * Tensor>)
    (record: string option)
    (task: IProgressTask)
    : EvaluationTally list =
    let ts = ts |> List.distinct |> List.sort
    let tMax = List.last ts
    let names = snn.NeuronLayers |> Seq.map (fun i -> snn.Layers[i].Name) |> Array.ofSeq

    let tallies =
        System.Collections.Generic.Dictionary<int, ResizeArray<EvaluationTally>>()

    for t in ts do
        tallies[t] <- ResizeArray()

    let readouts = ts |> List.filter (fun t -> t < tMax) |> Array.ofList

    for images, labels in batches do
        use scope = torch.NewDisposeScope()

        let tally (r: SimulationResult) =
            tallies[r.TimeSteps].Add(batchTally names record macs r labels)

        // Each earlier read-out is tallied as the simulation reaches it and freed at once: the batch
        // holds one read-out's recorded statistics at a time, not all of them until T.
        let options =
            SimulationOptions(Record = true, Readouts = readouts, OnReadout = System.Action<SimulationResult> tally)

        use result = snn.Run(images, tMax, options)
        tally result
        task.Advance(1, "")

    let empty t =
        { T = t
          Correct = 0L
          Seen = 0L
          Sops = ExactSum.Zero
          Analog = ExactSum.Zero
          Macs = macs
          Stage = record
          Layers = [||]
          PerImageCorrect = PerImage.encode [||] }

    // Summed once per T, in batch order: the per-image results are concatenated once.
    [ for t in ts ->
          match List.ofSeq tallies[t] with
          | [] -> empty t
          | parts -> Tally.sum parts ]

/// Runs the SNN once at the largest T of `ts` and reads the others out (see tallySnnAt); the
/// figures of every T, checked against the identity.
let evaluateSnnAt
    (snn: SpikingNetwork)
    (ts: int list)
    (batches: seq<Tensor * Tensor>)
    (record: string option)
    (task: IProgressTask)
    : (int * SnnEvaluation) list =
    tallySnnAt snn ts nan batches record task |> List.map (fun a -> a.T, finish a)

/// Runs the SNN at T on the batches (see evaluateSnnAt).
let evaluateSnn
    (snn: SpikingNetwork)
    (t: int)
    (batches: seq<Tensor * Tensor>)
    (record: string option)
    (task: IProgressTask)
    =
    evaluateSnnAt snn [ t ] batches record task |> List.exactlyOne |> snd


/// MACs of one ANN forward per image (PAPER.md's E_ANN), counted by Snn.Core's OperationCount
/// from the spec's inferred shapes: convolutions (residual blocks: both body convolutions and a
/// projection shortcut) and linear layers; batch norm folded and pooling cost nothing.
let annMacs (info: NetworkInfo) =
    let conv (input: Shape) (c: Conv) =
        match input with
        | Image(ci, h, w) ->
            OperationCount.ConvMacs(
                int64 ci,
                int64 c.OutChannels,
                int64 h,
                int64 w,
                int64 c.Kernel,
                int64 c.Stride,
                int64 c.Padding
            )
        | Vector _ -> 0L

    let convsOf (input: Shape) (layers: Layer list) =
        layers
        |> List.fold
            (fun (shape, total) layer ->
                let next =
                    match Network.layerOutput layer shape with
                    | Ok s -> s
                    | Error _ -> shape

                match layer with
                | Conv c -> next, total + conv shape c
                | _ -> next, total)
            (input, 0L)
        |> snd

    info.Layers
    |> List.sumBy (fun l ->
        match l.Layer, l.InputShape with
        | Conv c, s -> conv s c
        | Linear lin, Vector n -> OperationCount.LinearMacs(int64 n, int64 lin.OutFeatures)
        | Linear lin, Image(c, h, w) -> OperationCount.LinearMacs(int64 (c * h * w), int64 lin.OutFeatures)
        | Residual r, (Image(ci, _, _) as s) ->
            let body, shortcut = Network.residualParts ci r
            convsOf s body + convsOf s shortcut
        | _ -> 0L)
    |> float

/// Test accuracy (%) of an ANN on batches (evaluation mode, no gradients).
/// An ANN's test figures: accuracy (%), images, and which images it classified right.
type AnnTest =
    {
        Percent: float
        Count: int
        /// PerImage's text of the per-image results, in batch order.
        Hits: string
    }

/// Evaluates an ANN on the batches (evaluation mode, no gradients): its accuracy, 100 correct /
/// images as annAccuracy computes it, and the per-image results the paired tests compare.
let annTest (net: torch.nn.Module<Tensor, Tensor>) (batches: seq<Tensor * Tensor>) : AnnTest =
    net.eval ()
    use _ = torch.no_grad ()
    let hits = ResizeArray<bool>()

    for x, y in batches do
        use scope = torch.NewDisposeScope()
        hits.AddRange(net.forward(x).argmax(1L).eq(y).cpu().data<bool>().ToArray())

    let correct = hits |> Seq.sumBy (fun h -> if h then 1L else 0L)

    { Percent =
        if hits.Count = 0 then
            0.0
        else
            100.0 * float correct / float hits.Count
      Count = hits.Count
      Hits = PerImage.encode (hits.ToArray()) }

let annAccuracy (net: torch.nn.Module<Tensor, Tensor>) (batches: seq<Tensor * Tensor>) =
    Snn.Core.Training.Trainer.Evaluate(net, batches |> Seq.map (fun (x, y) -> struct (x.alias (), y.alias ()))).Accuracy
