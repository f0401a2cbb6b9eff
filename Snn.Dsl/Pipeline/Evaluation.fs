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

/// What one T's evaluation accumulates over the batches.
type private Tally(layers: int) =
    member val Correct = 0L with get, set
    member val Hits = ResizeArray<bool>()
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
        let hits = result.Output.argmax(1L).eq (labels)
        tally.Correct <- tally.Correct + hits.sum().item<int64> ()
        tally.Hits.AddRange(hits.cpu().data<bool>().ToArray())
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
          IdentityMaxAbs = identity
          PerImageCorrect = tally.Hits.ToArray() }

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
let annAccuracy (net: torch.nn.Module<Tensor, Tensor>) (batches: (Tensor * Tensor) list) =
    Snn.Core.Training.Trainer.Evaluate(net, batches |> Seq.map (fun (x, y) -> struct (x.alias (), y.alias ()))).Accuracy
