/// Activation statistics of a trained network: per activation layer, the p-th percentile of the
/// positive values of its input z over a set of images (the non-zero outputs of a ReLU, as SNN
/// Toolbox's robust normalisation takes them). A clip threshold at a high percentile ignores the
/// rare largest activations that a threshold at the maximum would spend its resolution on.
///
/// The values are counted in a logarithmic histogram (1,024 bins per octave over [2^-64, 2^64)),
/// so memory does not grow with the number of images; the percentile it returns lies between
/// the exact nearest-rank percentile and 2^(1/1024) (0.068 %) above it, and never above the
/// largest value seen.
module Snn.Dsl.ActivationStatistics

open System
open TorchSharp

/// Histogram bins per octave: neighbouring bin edges are 2^(1/1024) apart.
[<Literal>]
let BinsPerOctave = 1024

/// log2 of the lowest bin edge; positive values below 2^-64 are counted in the first bin.
[<Literal>]
let LowestOctave = -64

/// log2 of the highest bin edge; values at or above 2^64 are counted in the last bin.
[<Literal>]
let HighestOctave = 64

let private binCount = (HighestOctave - LowestOctave) * BinsPerOctave

/// The largest ratio of the returned percentile to the exact nearest-rank percentile.
let binRatio = Math.Pow(2.0, 1.0 / float BinsPerOctave)

/// Counts of positive values in logarithmic bins, their number and maximum.
type Histogram() =
    let counts = Array.zeroCreate<int64> binCount
    let mutable positive = 0L
    let mutable seen = 0L
    let mutable largest = Double.NegativeInfinity

    /// Values added (positive or not).
    member _.Count = seen
    /// Values > 0 added.
    member _.Positive = positive
    /// The largest value added (-infinity before any).
    member _.Max = largest

    /// Adds every element of `values` (any shape, float32 or float64, CPU or not).
    member _.Add(values: torch.Tensor) =
        use _ = torch.no_grad ()
        use scope = torch.NewDisposeScope()
        let v = values.detach().flatten().to_type(torch.ScalarType.Float64).cpu ()
        seen <- seen + v.numel ()

        if v.numel () > 0L then
            largest <- max largest (v.max().item<float> ())

        let p: torch.Tensor = v.masked_select (v.gt (torch.tensor 0.0))
        let n = p.numel ()

        if n > 0L then
            positive <- positive + n

            let bins =
                (p.log2().sub((float LowestOctave).ToScalar()).mul ((float BinsPerOctave).ToScalar()))
                    .floor()
                    .clamp((0.0).ToScalar(), (float (binCount - 1)).ToScalar())
                    .to_type (torch.ScalarType.Int64)

            let found = bins.bincount(null, int64 binCount).data<int64>().ToArray()

            for i in 0 .. binCount - 1 do
                counts[i] <- counts[i] + found[i]

    /// The p-th percentile (p in (0, 100]) of the positive values added, by nearest rank: the
    /// ceil(p/100 n)-th smallest of the n positive values, rounded up to its bin's upper edge and
    /// capped at the largest value. NaN when no value was positive.
    member _.Percentile(p: float) =
        if not (p > 0.0 && p <= 100.0) then
            invalidArg "p" $"percentile = %g{p} is out of range: expected (0, 100]"

        if positive = 0L then
            nan
        else
            let rank = max 1L (int64 (Math.Ceiling(p / 100.0 * float positive)))
            let mutable cumulative = 0L
            let mutable bin = 0

            while cumulative + counts[bin] < rank do
                cumulative <- cumulative + counts[bin]
                bin <- bin + 1

            let upper =
                Math.Pow(2.0, float LowestOctave + float (bin + 1) / float BinsPerOctave)

            min upper largest

/// What one activation layer's input looked like over the images.
type LayerStatistics =
    {
        /// The activation's leaf name ("act1", "layer1.0.act2").
        Layer: string
        /// Values seen: neurons times images.
        Count: int64
        /// Of these, the values > 0 (the ReLU's non-zero outputs).
        Positive: int64
        /// The largest value seen.
        Max: float
        /// The requested percentile of the positive values (NaN when none was positive).
        Percentile: float
    }

/// For each activation layer of `network` in execution order, the `percentile`-th percentile of
/// the positive values of its input z (the pre-activation) over `batches` of images, with the
/// network's own activations applied on the way (evaluation mode, no gradients).
let percentiles (network: CompiledNetwork) (percentile: float) (batches: torch.Tensor seq) : LayerStatistics list =
    if not (percentile > 0.0 && percentile <= 100.0) then
        invalidArg "percentile" $"percentile = %g{percentile} is out of range: expected (0, 100]"

    let layers = Compile.activations network
    let histograms = layers |> List.map (fun l -> l.Name, Histogram()) |> dict
    network.eval ()
    use _ = torch.no_grad ()

    for images in batches do
        use scope = torch.NewDisposeScope()

        Convert.forwardThroughActivations
            network
            (fun l z ->
                histograms[l.Name].Add z
                l.Module.forward z)
            images
        |> ignore

    [ for l in layers ->
          let h = histograms[l.Name]

          { Layer = l.Name
            Count = h.Count
            Positive = h.Positive
            Max = h.Max
            Percentile = h.Percentile percentile } ]
