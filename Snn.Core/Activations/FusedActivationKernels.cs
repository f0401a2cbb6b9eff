using System.Numerics;
using System.Runtime.CompilerServices;
using Snn.Core.Native;
using static Snn.Core.Activations.RoundingDraws;
using static TorchSharp.torch;

namespace Snn.Core.Activations;

/// <summary>
/// One-pass SIMD kernels over raw float32 memory for the clip and (noisy) quantize-clip activations:
/// each forward reads x once and writes y once, each backward reads x and the output gradient g once
/// and writes dL/dx once, and reduces dL/dtheta on the way. Every kernel mirrors, operation for
/// operation, the float32 rounding of the composite reference in <see cref="ClipActivation.Functional"/>
/// and <see cref="QuantizeClipActivation.Functional"/> (see <see cref="FusedActivations"/> for the maths).
/// Work is split into fixed blocks of <see cref="BlockSize"/> elements over at most the cores torch uses;
/// the theta-gradient is summed per block in float64 and the block sums are added in block order, so
/// results do not depend on thread scheduling.
/// The noisy kernels draw their rounding masks from <see cref="RoundingDraws"/>.
/// </summary>
internal static unsafe class FusedActivationKernels
{
    /// <summary>Elements per parallel work item (a multiple of every SIMD width and of <see cref="GroupSize"/>).</summary>
    public const int BlockSize = RawBlocks.BlockSize;

    /// <summary>
    /// Compile-time check that every block starts on a group boundary (start = b * BlockSize), so that
    /// the paired vector path sees (start + i) % 16 == 0: the constant 256 does not fit a byte, so this
    /// line fails to compile unless BlockSize is a multiple of GroupSize.
    /// </summary>
    private const byte BlockSizeIsWholeGroups = BlockSize % GroupSize == 0 ? 0 : 256;

    /// <summary>Elements summed in float32 before the partial sum is folded into float64.</summary>
    private const int SumChunk = 1024;

    /// <summary>y = min(max(x, 0), t) with max(x, 0) = (x &lt; 0 ? 0 : x), min(r, t) = (r &gt; t ? t : r).</summary>
    public static void ClipForward(Tensor input, Tensor output, float t)
    {
        var px = (float*)Pointer(input);
        var py = (float*)Pointer(output);
        ForBlocks(input.numel(), (start, length) =>
        {
            var x = px + start;
            var y = py + start;
            var i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var tv = new Vector<float>(t);
                for (; i <= length - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var v = Vector.Load(x + i);
                    var r = Vector.ConditionalSelect(Vector.LessThan(v, Vector<float>.Zero), Vector<float>.Zero, v);
                    Vector.Store(Vector.ConditionalSelect(Vector.GreaterThan(r, tv), tv, r), y + i);
                }
            }

            for (; i < length; i++)
            {
                var r = x[i] < 0f ? 0f : x[i];
                y[i] = r > t ? t : r;
            }

            return 0.0;
        });
    }

    /// <summary>
    /// With r = max(x, 0): dx = [r &gt; 0] * (r &lt; t ? g : r == t ? g / 2 : 0), written to
    /// <paramref name="gradInput"/>; returns sum over elements of (r &gt; t ? g : r == t ? g / 2 : 0)
    /// (the gradient wrt |theta|), as relu's and minimum's backward define them.
    /// </summary>
    public static double ClipBackward(Tensor input, Tensor gradOutput, Tensor gradInput, float t)
    {
        var px = (float*)Pointer(input);
        var pg = (float*)Pointer(gradOutput);
        var pd = (float*)Pointer(gradInput);
        return ForBlocks(input.numel(), (start, length) =>
        {
            var x = px + start;
            var g = pg + start;
            var d = pd + start;
            var total = 0.0;
            var i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var tv = new Vector<float>(t);
                var half = new Vector<float>(0.5f);
                var zero = Vector<float>.Zero;
                while (i <= length - Vector<float>.Count)
                {
                    var sum = zero;
                    var end = Math.Min(length, i + SumChunk);
                    for (; i <= end - Vector<float>.Count; i += Vector<float>.Count)
                    {
                        var v = Vector.Load(x + i);
                        var gv = Vector.Load(g + i);
                        var r = Vector.ConditionalSelect(Vector.LessThan(v, zero), zero, v);
                        var tie = Vector.Equals(r, tv);
                        var tied = Vector.ConditionalSelect(tie, gv * half, gv);
                        var toInput = Vector.ConditionalSelect(Vector.GreaterThan(r, tv), zero, tied);
                        Vector.Store(Vector.ConditionalSelect(Vector.LessThanOrEqual(r, zero), zero, toInput), d + i);
                        sum += Vector.ConditionalSelect(Vector.LessThan(r, tv), zero, tied);
                    }

                    total += Vector.Sum(sum);
                }
            }

            for (; i < length; i++)
            {
                var r = x[i] < 0f ? 0f : x[i];
                var tied = r == t ? g[i] * 0.5f : g[i];
                d[i] = r <= 0f || r > t ? 0f : tied;
                total += r < t ? 0f : tied;
            }

            return total;
        });
    }

    /// <summary>
    /// r = x / t, u = (r &lt; 0 ? 0 : r) then (u &gt; 1 ? 1 : u), q = floor(u L + 1/2) / L,
    /// level = rounded ? q : u, y = t * (level + 0) (the + 0 is the composite's u - u.detach()).
    /// Rounded is every element when <paramref name="cut"/> is 2^16, else those whose draw
    /// (<see cref="Draw"/>) is below cut.
    /// </summary>
    public static void QuantizeClipForward(Tensor input, Tensor output, float t, int levels, uint cut, ulong seed)
    {
        var px = (float*)Pointer(input);
        var py = (float*)Pointer(output);
        var noisy = cut < DrawRange;
        ForBlocks(input.numel(), (start, length) =>
        {
            var x = px + start;
            var y = py + start;
            var i = 0;
            float l = levels;
            var tv = new Vector<float>(t);
            var lv = new Vector<float>(l);
            if (!noisy && Vector.IsHardwareAccelerated)
            {
                for (; i <= length - Vector<float>.Count; i += Vector<float>.Count)
                {
                    QuantizeClipLanes(x + i, y + i, tv, lv, default, false);
                }
            }
            else if (noisy && PairedLanes)
            {
                // start is a multiple of BlockSize and i of GroupSize: each iteration is one whole group.
                for (; i <= length - GroupSize; i += GroupSize)
                {
                    for (var j = 0; j < WordsPerGroup; j += Vector<uint>.Count)
                    {
                        var h = GroupHash(start + i, j, seed);
                        QuantizeClipLanes(x + i + j, y + i + j, tv, lv, Below(h & new Vector<uint>(LowDraw), cut), true);
                        QuantizeClipLanes(
                            x + i + WordsPerGroup + j, y + i + WordsPerGroup + j, tv, lv, Below(Vector.ShiftRightLogical(h, DrawBits), cut), true);
                    }
                }
            }

            for (; i < length; i++)
            {
                var u = Unit(x[i] / t);
                var level = MathF.Floor((u * l) + 0.5f) / l;
                if (noisy && !Rounded(start + i, seed, cut))
                {
                    level = u;
                }

                y[i] = t * (level + 0f);
            }

            return 0.0;
        });
    }

    /// <summary>
    /// Autograd of PAPER.md's t * clip(STE(floor(r L + 1/2)) / L, 0, 1), r = x / t, in that order: with
    /// a = floor(r L + 1/2) / L, a rounded entry is inside when a is in [0, 1] (the clip's closed
    /// interval, i.e. r in [-1/(2L), 1 + 1/(2L))), an unrounded one (t * clip(r, 0, 1)) when r is in
    /// [0, 1]; level as in the forward. With <paramref name="clipFirst"/> (<see cref="QuantizeClipGradient.ClipThenRound"/>)
    /// every entry is inside when r is in [0, 1]. dx = inside ? g : 0, written to <paramref name="gradInput"/>;
    /// returns sum of g * (level - (inside ? r : 0)) (the gradient wrt |theta|).
    /// </summary>
    public static double QuantizeClipBackward(
        Tensor input, Tensor gradOutput, Tensor gradInput, float t, int levels, uint cut, ulong seed, bool clipFirst)
    {
        var px = (float*)Pointer(input);
        var pg = (float*)Pointer(gradOutput);
        var pd = (float*)Pointer(gradInput);
        var noisy = cut < DrawRange;
        return ForBlocks(input.numel(), (start, length) =>
        {
            var x = px + start;
            var g = pg + start;
            var d = pd + start;
            var total = 0.0;
            var i = 0;
            float l = levels;
            var tv = new Vector<float>(t);
            var lv = new Vector<float>(l);
            if (!noisy && Vector.IsHardwareAccelerated)
            {
                while (i <= length - Vector<float>.Count)
                {
                    var sum = Vector<float>.Zero;
                    var end = Math.Min(length, i + SumChunk);
                    for (; i <= end - Vector<float>.Count; i += Vector<float>.Count)
                    {
                        sum += QuantizeClipGradLanes(x + i, g + i, d + i, tv, lv, default, false, clipFirst);
                    }

                    total += Vector.Sum(sum);
                }
            }
            else if (noisy && PairedLanes)
            {
                // As in the forward: each iteration is one whole group of GroupSize elements.
                while (i <= length - GroupSize)
                {
                    var sum = Vector<float>.Zero;
                    var end = Math.Min(length, i + SumChunk);
                    for (; i <= end - GroupSize; i += GroupSize)
                    {
                        for (var j = 0; j < WordsPerGroup; j += Vector<uint>.Count)
                        {
                            var h = GroupHash(start + i, j, seed);
                            var k = i + j;
                            sum += QuantizeClipGradLanes(x + k, g + k, d + k, tv, lv, Below(h & new Vector<uint>(LowDraw), cut), true, clipFirst);
                            k += WordsPerGroup;
                            sum += QuantizeClipGradLanes(
                                x + k, g + k, d + k, tv, lv, Below(Vector.ShiftRightLogical(h, DrawBits), cut), true, clipFirst);
                        }
                    }

                    total += Vector.Sum(sum);
                }
            }

            for (; i < length; i++)
            {
                var r = x[i] / t;
                var a = MathF.Floor((r * l) + 0.5f) / l;
                var inside = clipFirst ? r >= 0f && r <= 1f : a >= 0f && a <= 1f;
                var level = Unit(a);
                if (noisy && !Rounded(start + i, seed, cut))
                {
                    level = Unit(r);
                    inside = r >= 0f && r <= 1f;
                }

                d[i] = inside ? g[i] : 0f;
                total += g[i] * (level - (inside ? r : 0f));
            }

            return total;
        });
    }

    /// <summary>The forward of <see cref="QuantizeClipForward"/> on one vector; rounded lanes apply only when noisy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeClipLanes(float* x, float* y, Vector<float> tv, Vector<float> lv, Vector<float> rounded, bool noisy)
    {
        var u = Unit(Vector.Load(x) / tv);
        var level = Vector.Floor((u * lv) + new Vector<float>(0.5f)) / lv;
        if (noisy)
        {
            level = Vector.ConditionalSelect(rounded, level, u);
        }

        Vector.Store(tv * (level + Vector<float>.Zero), y);
    }

    /// <summary>
    /// The backward of <see cref="QuantizeClipBackward"/> on one vector: stores dx and returns the lanes of
    /// g * (level - [inside] r); rounded lanes apply only when noisy; <paramref name="clipFirst"/> puts every
    /// lane's band at r in [0, 1].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> QuantizeClipGradLanes(
        float* x, float* g, float* d, Vector<float> tv, Vector<float> lv, Vector<float> rounded, bool noisy, bool clipFirst)
    {
        var zero = Vector<float>.Zero;
        var one = Vector<float>.One;
        var r = Vector.Load(x) / tv;
        var gv = Vector.Load(g);
        var a = Vector.Floor((r * lv) + new Vector<float>(0.5f)) / lv;
        var band = clipFirst ? r : a;
        var inside = Vector.BitwiseAnd(Vector.GreaterThanOrEqual(band, zero), Vector.LessThanOrEqual(band, one));
        var level = Unit(a);
        if (noisy)
        {
            level = Vector.ConditionalSelect(rounded, level, Unit(r));
            inside = Vector.ConditionalSelect(
                Vector.AsVectorInt32(rounded), inside, Vector.BitwiseAnd(Vector.GreaterThanOrEqual(r, zero), Vector.LessThanOrEqual(r, one)));
        }

        Vector.Store(Vector.ConditionalSelect(inside, gv, zero), d);
        return gv * (level - Vector.ConditionalSelect(inside, r, zero));
    }

    /// <summary>clamp(r, 0, 1) as (r &lt; 0 ? 0 : r) then (u &gt; 1 ? 1 : u).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Unit(Vector<float> r)
    {
        var u = Vector.ConditionalSelect(Vector.LessThan(r, Vector<float>.Zero), Vector<float>.Zero, r);
        return Vector.ConditionalSelect(Vector.GreaterThan(u, Vector<float>.One), Vector<float>.One, u);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Unit(float r)
    {
        var u = r < 0f ? 0f : r;
        return u > 1f ? 1f : u;
    }

    /// <summary>The block results of <see cref="RawBlocks.Run"/> folded in block order.</summary>
    private static double ForBlocks(long count, Func<long, int, double> block)
    {
        var total = 0.0;
        foreach (var p in RawBlocks.Run(count, block))
        {
            total += p;
        }

        return total;
    }

    private static void* Pointer(Tensor t) => RawBlocks.Float32Pointer(t, "the fused activation kernels");
}
