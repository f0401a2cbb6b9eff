using System.Numerics;
using System.Runtime.CompilerServices;
using Snn.Core.Native;
using static TorchSharp.torch;

namespace Snn.Core.Errors;

/// <summary>
/// One pass over raw float32 memory computing <see cref="ErrorDecomposition.Summarize"/>: each element's
/// z, r, v(T), theta and v(0) are read once, widened to float64, and every per-element term is computed with
/// the float64 operations of the tensor reference in their order, so each term is bit-identical to it:
/// <code>
/// t = |theta|, a = floor((z / t) * T + 1/2) / T, QC = t * clamp(a, 0, 1)      (QuantizeClip with L = T)
/// relu = (z &lt; 0 ? 0 : z), clip = (relu &gt; t ? t : relu)                  (min(relu(z), |theta|))
/// residual = r - QC, quantization = QC - clip, clipping = clip - relu, total = r - relu
/// deviation = |(r - z) - (v(0) - v(T)) / T|
/// </code>
/// Work is split into fixed blocks of <see cref="BlockSize"/> elements; sums are accumulated in float64
/// within a block in a fixed order and the block results are merged in block order, so the result does not
/// depend on thread scheduling or the number of threads. Counts and the maximum are exact.
/// </summary>
internal static unsafe class ErrorSummaryKernel
{
    /// <summary>Elements per parallel work item (a multiple of every SIMD width).</summary>
    public const int BlockSize = RawBlocks.BlockSize;

    /// <summary>Elements summed per lane before the partial sums are folded into the block's sums.</summary>
    private const int SumChunk = 1024;

    /// <summary>
    /// The summary of z = <paramref name="meanInput"/>, r = <paramref name="rate"/>, v(T) =
    /// <paramref name="finalPotential"/> (float32, contiguous, on the CPU, shape [B, ...] with B &gt;= 1 and at
    /// least one element) with theta and v(0) each a float32 CPU tensor broadcastable to z that has one element,
    /// one entry per neuron (not varying along the batch axis), or exactly the shape of z; null when the inputs
    /// do not have that form. Arguments are assumed validated by <see cref="ErrorDecomposition.Summarize"/>.
    /// </summary>
    public static LayerErrorSummary? TrySummarize(
        Tensor meanInput, Tensor rate, Tensor threshold, int timeSteps, Tensor initialPotential, Tensor finalPotential)
    {
        if (!IsFlatFloat32(meanInput) || !IsFlatFloat32(rate) || !IsFlatFloat32(finalPotential)
            || meanInput.dim() < 1 || meanInput.numel() == 0)
        {
            return null;
        }

        using var scope = NewDisposeScope();
        var count = meanInput.numel();
        var neurons = count / meanInput.shape[0];
        if (Operand(threshold, meanInput.shape, neurons) is not { } theta
            || Operand(initialPotential, meanInput.shape, neurons) is not { } v0)
        {
            return null;
        }

        var pz = (float*)Pointer(meanInput);
        var pr = (float*)Pointer(rate);
        var pv = (float*)Pointer(finalPotential);
        var pt = (float*)Pointer(theta.Values);
        var p0 = (float*)Pointer(v0.Values);
        var shape = new Layout(neurons, theta.Period, v0.Period);
        var s = ForBlocks(count, (start, length) => Block(pz, pr, pv, pt, p0, shape, timeSteps, start, length));
        return new LayerErrorSummary(
            count,
            new ErrorTermSums(s.ResidualAbs, s.Residual),
            new ErrorTermSums(s.QuantizationAbs, s.Quantization),
            new ErrorTermSums(s.ClippingAbs, s.Clipping),
            new ErrorTermSums(s.TotalAbs, s.Total),
            s.Negative,
            s.Overflow,
            s.MaxDeviation);
    }

    /// <summary>
    /// A broadcast operand as contiguous float32 values with element i of z reading Values[i % Period]:
    /// Period 1 (one element), N (one per neuron; a per-channel tensor is expanded to the N neurons of one
    /// sample, a small copy) or the element count of z; null when the operand varies along the batch axis
    /// without having z's full shape, is not float32, or is not on the CPU.
    /// </summary>
    private static (Tensor Values, long Period)? Operand(Tensor value, long[] shape, long neurons)
    {
        if (value.dtype != ScalarType.Float32 || value.device_type != TorchSharp.DeviceType.CPU)
        {
            return null;
        }

        if (value.numel() == 1)
        {
            return (value.reshape(1).contiguous(), 1);
        }

        if (value.dim() == shape.Length && value.shape.SequenceEqual(shape))
        {
            return value.is_contiguous() ? (value, value.numel()) : null;
        }

        if (value.dim() == shape.Length)
        {
            if (value.shape[0] != 1)
            {
                return null;
            }

            value = value.squeeze(0);
        }

        return (value.expand(shape[1..]).contiguous(), neurons);
    }

    private static bool IsFlatFloat32(Tensor t) =>
        t.dtype == ScalarType.Float32 && t.device_type == TorchSharp.DeviceType.CPU && t.is_contiguous();

    /// <summary>Neurons per sample N and the periods (1, N or the element count) of theta and v(0).</summary>
    private readonly record struct Layout(long Neurons, long ThetaPeriod, long InitialPeriod);

    /// <summary>Running sums, counts and maximum of a block (or of the merged blocks).</summary>
    private struct Partial
    {
        public double ResidualAbs, Residual, QuantizationAbs, Quantization, ClippingAbs, Clipping, TotalAbs, Total;
        public long Negative, Overflow;
        public double MaxDeviation;

        public void Add(in Partial other)
        {
            ResidualAbs += other.ResidualAbs;
            Residual += other.Residual;
            QuantizationAbs += other.QuantizationAbs;
            Quantization += other.Quantization;
            ClippingAbs += other.ClippingAbs;
            Clipping += other.Clipping;
            TotalAbs += other.TotalAbs;
            Total += other.Total;
            Negative += other.Negative;
            Overflow += other.Overflow;
            MaxDeviation = Math.Max(MaxDeviation, other.MaxDeviation);
        }
    }

    /// <summary>The per-lane accumulators of one chunk.</summary>
    private struct Lanes
    {
        public Vector<double> ResidualAbs, Residual, QuantizationAbs, Quantization, ClippingAbs, Clipping, TotalAbs, Total;
        public Vector<long> Negative, Overflow;
        public Vector<double> MaxDeviation;

        public readonly void FoldInto(ref Partial p)
        {
            p.ResidualAbs += Vector.Sum(ResidualAbs);
            p.Residual += Vector.Sum(Residual);
            p.QuantizationAbs += Vector.Sum(QuantizationAbs);
            p.Quantization += Vector.Sum(Quantization);
            p.ClippingAbs += Vector.Sum(ClippingAbs);
            p.Clipping += Vector.Sum(Clipping);
            p.TotalAbs += Vector.Sum(TotalAbs);
            p.Total += Vector.Sum(Total);

            // The comparison masks are -1 per counted lane.
            p.Negative -= Vector.Sum(Negative);
            p.Overflow -= Vector.Sum(Overflow);
            for (var k = 0; k < Vector<double>.Count; k++)
            {
                p.MaxDeviation = Math.Max(p.MaxDeviation, MaxDeviation[k]);
            }
        }
    }

    /// <summary>
    /// Elements [start, start + length): split into segments that do not cross a sample boundary when theta
    /// or v(0) is per neuron, so that within a segment every operand is either one value or a run of
    /// consecutive values.
    /// </summary>
    private static Partial Block(float* z, float* r, float* vT, float* theta, float* v0, Layout layout, int timeSteps, long start, int length)
    {
        var p = default(Partial);
        var end = start + length;
        var perNeuron = layout.Neurons > 1 && (layout.ThetaPeriod == layout.Neurons || layout.InitialPeriod == layout.Neurons);
        for (var i = start; i < end;)
        {
            var stop = perNeuron ? Math.Min(end, ((i / layout.Neurons) + 1) * layout.Neurons) : end;
            Segment(
                ref p,
                z + i,
                r + i,
                vT + i,
                theta + (i % layout.ThetaPeriod),
                layout.ThetaPeriod == 1,
                v0 + (i % layout.InitialPeriod),
                layout.InitialPeriod == 1,
                timeSteps,
                (int)(stop - i));
            i = stop;
        }

        return p;
    }

    /// <summary>
    /// One run of <paramref name="length"/> elements; theta (v(0)) is the single value *theta (*v0) when
    /// <paramref name="oneTheta"/> (<paramref name="oneInitial"/>), else theta[i] (v0[i]).
    /// </summary>
    private static void Segment(
        ref Partial p, float* z, float* r, float* vT, float* theta, bool oneTheta, float* v0, bool oneInitial, int timeSteps, int length)
    {
        double steps = timeSteps;
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var width = Vector<float>.Count;
            var levels = new Vector<double>(steps);
            var thetaOne = new Vector<float>(*theta);
            var initialOne = new Vector<float>(*v0);
            while (i <= length - width)
            {
                var lanes = default(Lanes);
                var stop = Math.Min(length, i + SumChunk);
                for (; i <= stop - width; i += width)
                {
                    Vector.Widen(Vector.Load(z + i), out var zLow, out var zHigh);
                    Vector.Widen(Vector.Load(r + i), out var rLow, out var rHigh);
                    Vector.Widen(Vector.Load(vT + i), out var vLow, out var vHigh);
                    Vector.Widen(oneTheta ? thetaOne : Vector.Load(theta + i), out var tLow, out var tHigh);
                    Vector.Widen(oneInitial ? initialOne : Vector.Load(v0 + i), out var iLow, out var iHigh);
                    Accumulate(ref lanes, zLow, rLow, tLow, iLow, vLow, levels);
                    Accumulate(ref lanes, zHigh, rHigh, tHigh, iHigh, vHigh, levels);
                }

                lanes.FoldInto(ref p);
            }
        }

        for (; i < length; i++)
        {
            double zi = z[i], ri = r[i], vi = vT[i];
            double thetaI = oneTheta ? *theta : theta[i];
            double initialI = oneInitial ? *v0 : v0[i];
            var t = Math.Abs(thetaI);
            var a = Math.Floor(((zi / t) * steps) + 0.5) / steps;
            var u = a < 0.0 ? 0.0 : a;
            var qc = t * (u > 1.0 ? 1.0 : u);
            var relu = zi < 0.0 ? 0.0 : zi;
            var clip = relu > t ? t : relu;
            Add(ref p.ResidualAbs, ref p.Residual, ri - qc);
            Add(ref p.QuantizationAbs, ref p.Quantization, qc - clip);
            Add(ref p.ClippingAbs, ref p.Clipping, clip - relu);
            Add(ref p.TotalAbs, ref p.Total, ri - relu);
            p.Negative += vi < 0.0 ? 1 : 0;
            p.Overflow += vi >= thetaI ? 1 : 0;
            var deviation = Math.Abs((ri - zi) - ((initialI - vi) / steps));
            p.MaxDeviation = deviation > p.MaxDeviation ? deviation : p.MaxDeviation;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(ref double absolute, ref double signed, double e)
    {
        absolute += Math.Abs(e);
        signed += e;
    }

    /// <summary>The lanes of <see cref="Segment"/>'s scalar loop body, operation for operation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(
        ref Lanes s, Vector<double> z, Vector<double> r, Vector<double> theta, Vector<double> v0, Vector<double> vT, Vector<double> steps)
    {
        var zero = Vector<double>.Zero;
        var one = Vector<double>.One;
        var t = Vector.Abs(theta);
        var a = Vector.Floor(((z / t) * steps) + new Vector<double>(0.5)) / steps;
        var u = Vector.ConditionalSelect(Vector.LessThan(a, zero), zero, a);
        var qc = t * Vector.ConditionalSelect(Vector.GreaterThan(u, one), one, u);
        var relu = Vector.ConditionalSelect(Vector.LessThan(z, zero), zero, z);
        var clip = Vector.ConditionalSelect(Vector.GreaterThan(relu, t), t, relu);
        var residual = r - qc;
        var quantization = qc - clip;
        var clipping = clip - relu;
        var total = r - relu;
        s.ResidualAbs += Vector.Abs(residual);
        s.Residual += residual;
        s.QuantizationAbs += Vector.Abs(quantization);
        s.Quantization += quantization;
        s.ClippingAbs += Vector.Abs(clipping);
        s.Clipping += clipping;
        s.TotalAbs += Vector.Abs(total);
        s.Total += total;
        s.Negative += Vector.LessThan(vT, zero);
        s.Overflow += Vector.GreaterThanOrEqual(vT, theta);
        var deviation = Vector.Abs((r - z) - ((v0 - vT) / steps));
        s.MaxDeviation = Vector.ConditionalSelect(Vector.GreaterThan(deviation, s.MaxDeviation), deviation, s.MaxDeviation);
    }

    /// <summary>The block results of <see cref="RawBlocks.Run"/> folded in block order.</summary>
    private static Partial ForBlocks(long count, Func<long, int, Partial> block)
    {
        var total = default(Partial);
        foreach (var p in RawBlocks.Run(count, block))
        {
            total.Add(p);
        }

        return total;
    }

    private static void* Pointer(Tensor t) => RawBlocks.Float32Pointer(t, "the error summary kernel");
}
