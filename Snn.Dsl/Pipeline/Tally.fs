/// What an SNN evaluation sums over its batches, kept so that the sums of disjoint parts of the
/// test set (the shards of a sharded evaluation) add up to exactly the sums of the whole: counts
/// are integers, and sums of floating-point figures are kept exact (ExactSum), so the order and
/// grouping of the additions does not change the result in the last bit. The per-image results
/// (which images were classified right, for the paired tests) are concatenated in image order.
namespace Snn.Dsl.Pipeline

open System
open System.Globalization
open System.Numerics
open System.Text.Json
open System.Text.Json.Serialization

/// An exact sum of finite doubles: the integer Scaled = sum * 2^1074 (every finite double is an
/// integer multiple of 2^-1074), so that addition is associative and commutative. Value rounds it
/// to a double once, the same way whatever order the terms came in.
[<Struct; CustomEquality; NoComparison; JsonConverter(typeof<ExactSumConverter>)>]
type ExactSum =
    val Scaled: BigInteger
    new(scaled) = { Scaled = scaled }

    /// The exact value of a finite double.
    static member Of(x: float) =
        if not (Double.IsFinite x) then
            invalidArg "x" $"an exact sum takes finite values only, not %g{x}"

        let bits = BitConverter.DoubleToInt64Bits x
        let exponent = int ((bits >>> 52) &&& 0x7FFL)
        let fraction = bits &&& 0xFFFFFFFFFFFFFL
        // x = mantissa * 2^(exponent - 1075) (normal) or fraction * 2^-1074 (subnormal).
        let magnitude =
            if exponent = 0 then
                BigInteger fraction
            else
                BigInteger(fraction ||| (1L <<< 52)) <<< (exponent - 1)

        ExactSum(if bits < 0L then -magnitude else magnitude)

    static member Zero = ExactSum BigInteger.Zero
    static member (+)(a: ExactSum, b: ExactSum) = ExactSum(a.Scaled + b.Scaled)

    /// The sum as a double (from its 62 leading bits: within one unit in the last place).
    member s.Value: float =
        if s.Scaled.IsZero then
            0.0
        else
            let m = BigInteger.Abs s.Scaled
            let drop = max 0 (int (m.GetBitLength()) - 62)
            let v = Math.ScaleB(float (int64 (m >>> drop)), drop - 1074)
            if s.Scaled.Sign < 0 then -v else v

    override s.Equals(o: obj) =
        match o with
        | :? ExactSum as t -> s.Scaled = t.Scaled
        | _ -> false

    override s.GetHashCode() = s.Scaled.GetHashCode()

/// JSON: the scaled integer as a decimal string.
and ExactSumConverter() =
    inherit JsonConverter<ExactSum>()

    override _.Read(reader, _, _) =
        match BigInteger.TryParse(reader.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) with
        | true, v -> ExactSum v
        | _ -> raise (JsonException "an exact sum is a string of a whole number")

    override _.Write(writer, value, _) =
        // Invariant: Swedish or Finnish write U+2212 for the minus sign, which no other culture reads.
        writer.WriteStringValue(value.Scaled.ToString(CultureInfo.InvariantCulture))

/// Sums of one error term: sum |e| and sum e.
type TermTally =
    { AbsoluteSum: ExactSum
      SignedSum: ExactSum }

    static member (+)(a: TermTally, b: TermTally) =
        { AbsoluteSum = a.AbsoluteSum + b.AbsoluteSum
          SignedSum = a.SignedSum + b.SignedSum }

/// One neuron layer's sums (Snn.Core LayerErrorSummary's, exact) and v(T)/theta histogram.
type LayerTally =
    {
        Name: string
        Count: int64
        Residual: TermTally
        Quantization: TermTally
        Clipping: TermTally
        Total: TermTally
        Negative: int64
        Overflow: int64
        MaxIdentityDeviation: float
        /// The layer's mean threshold (a network parameter: the same in every batch).
        Threshold: float
        Histogram: int64[]
    }

/// What one evaluation at one T sums over its images.
type EvaluationTally =
    {
        T: int
        Correct: int64
        Seen: int64
        Sops: ExactSum
        Analog: ExactSum
        /// MACs of one forward pass of the source ANN (for the energy ratio).
        Macs: float
        /// The anatomy's stage label when the evaluation records the error anatomy.
        Stage: string option
        Layers: LayerTally[]
        /// Which of the Seen images, in the order evaluated, were classified right (PerImage's
        /// base64 bitset): the tallies of consecutive image sets concatenate it in order.
        PerImageCorrect: string
    }

module Tally =

    let private layerSum (a: LayerTally) (b: LayerTally) =
        if a.Name <> b.Name || a.Histogram.Length <> b.Histogram.Length then
            invalidArg "b" $"layer {b.Name} cannot be added to layer {a.Name}"

        { a with
            Count = a.Count + b.Count
            Residual = a.Residual + b.Residual
            Quantization = a.Quantization + b.Quantization
            Clipping = a.Clipping + b.Clipping
            Total = a.Total + b.Total
            Negative = a.Negative + b.Negative
            Overflow = a.Overflow + b.Overflow
            MaxIdentityDeviation = max a.MaxIdentityDeviation b.MaxIdentityDeviation
            Histogram = Array.map2 (+) a.Histogram b.Histogram }

    /// The per-image results of a tally, checked against its count of images classified right
    /// (an error names its T and what is wrong).
    let hits (a: EvaluationTally) =
        let fail e =
            invalidArg "tally" $"the evaluation at T = %d{a.T} of %d{a.Seen} images: %s{e}"

        match PerImage.decode (int a.Seen) a.PerImageCorrect with
        | Error e -> fail e
        | Ok hits ->
            let counted = hits |> Array.sumBy (fun h -> if h then 1L else 0L)

            if counted <> a.Correct then
                fail $"its per-image results count %d{counted} right, its count %d{a.Correct}"

            hits

    /// The tally of consecutive disjoint image sets evaluated by the same network at the same T,
    /// in the order given (the per-image results are concatenated in that order; the sums do not
    /// depend on it).
    let sum (parts: EvaluationTally list) =
        match parts with
        | [] -> invalidArg "parts" "a sum of evaluation tallies needs at least one"
        | [ a ] -> a
        | a :: rest ->
            for b in rest do
                if a.T <> b.T || a.Layers.Length <> b.Layers.Length || a.Stage <> b.Stage then
                    invalidArg
                        "parts"
                        $"an evaluation at T = {b.T} cannot be added to one at T = {a.T} of another network or stage"

            { a with
                Correct = parts |> List.sumBy _.Correct
                Seen = parts |> List.sumBy _.Seen
                Sops = parts |> List.map _.Sops |> List.reduce (+)
                Analog = parts |> List.map _.Analog |> List.reduce (+)
                Layers = parts |> List.map _.Layers |> List.reduce (Array.map2 layerSum)
                PerImageCorrect = parts |> Seq.collect hits |> Array.ofSeq |> PerImage.encode }

    /// The tally of `a`'s images followed by `b`'s (see sum).
    let add (a: EvaluationTally) (b: EvaluationTally) = sum [ a; b ]
