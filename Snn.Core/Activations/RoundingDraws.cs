using System.Numerics;
using System.Runtime.CompilerServices;
using Snn.Core.Native;
using static TorchSharp.torch;

namespace Snn.Core.Activations;

/// <summary>
/// The rounding draws of noisy quantization: every element e of a tensor gets a 16-bit uniform draw that
/// depends only on (seed, e), and is rounded when its draw is below a cut (see <see cref="Draw"/>). Draws
/// are 16-bit halves of a 32-bit counter hash, two per hash, mapped onto elements in groups of
/// <see cref="GroupSize"/> independently of the SIMD width and of the kernels' blocks; with 8-lane vectors
/// one vector hash masks 16 elements. The scalar <see cref="Draw"/> is the definition, and
/// <see cref="RoundingMask"/> writes it out as the reference for the vector paths of
/// <see cref="FusedActivationKernels"/>.
/// </summary>
internal static unsafe class RoundingDraws
{
    /// <summary>
    /// Elements per draw group: group g = e / 16 owns the 8 hash words 8g .. 8g + 7, whose low halves
    /// are the draws of its elements 0..7 and whose high halves those of its elements 8..15.
    /// </summary>
    public const int GroupSize = 16;

    /// <summary>Hash words per draw group (two 16-bit draws per 32-bit word).</summary>
    public const int WordsPerGroup = GroupSize / 2;

    /// <summary>Resolution of the rounding draw: a 16-bit uniform integer per element (half of a 32-bit hash).</summary>
    public const int DrawBits = 16;

    /// <summary>2^16: the number of values of a draw; a cut of DrawRange rounds every element.</summary>
    public const uint DrawRange = 1u << DrawBits;

    /// <summary>The low 16 bits of a hash word: the draw of an element in the first half of its group.</summary>
    public const uint LowDraw = DrawRange - 1;

    /// <summary>
    /// Whether the noisy kernels take the paired vector path: the vector width divides the 8 words of a
    /// group (8 lanes with AVX2: one hash per 16 elements; 4 lanes: two). Otherwise (16 lanes) noisy
    /// kernels run the scalar path with the same draws.
    /// </summary>
    public static bool PairedLanes => Vector.IsHardwareAccelerated && WordsPerGroup % Vector<uint>.Count == 0;

    /// <summary>
    /// Writes 1 where element i is rounded (its draw <see cref="Draw"/> is below <paramref name="cut"/>),
    /// else 0: element by element through the scalar definition (in parallel blocks), the reference for the
    /// vector paths and the mask of the composite path on other devices.
    /// </summary>
    public static void RoundingMask(Tensor mask, uint cut, ulong seed)
    {
        var pm = (float*)RawBlocks.Float32Pointer(mask, "the rounding mask");
        RawBlocks.Run(mask.numel(), (start, length) =>
        {
            for (var i = start; i < start + length; i++)
            {
                pm[i] = Rounded(i, seed, cut) ? 1f : 0f;
            }

            return 0;
        });
    }

    /// <summary>
    /// The 16-bit draw of element e (0 &lt;= e &lt; 2^32): with group g = e &gt;&gt; 4 and word
    /// w = (g &lt;&lt; 3) | (e &amp; 7), the hash H(w) = mix(mix(w + k0) ^ k1) (k0, k1 the low and high
    /// halves of the seed, sums mod 2^32, mix the "lowbias32" integer hash, a bijection of 32-bit words
    /// with full avalanche); the draw is the low 16 bits of H(w) when bit 3 of e is 0 (elements 0..7 of
    /// the group) and the high 16 bits when it is 1 (elements 8..15). So each hash serves elements e and
    /// e + 8 of one group, the mapping depends neither on the SIMD width nor on the blocks, and any
    /// element's draw is recomputed from (seed, e) alone.
    /// </summary>
    public static uint Draw(long index, ulong seed)
    {
        var word = unchecked((uint)(((index >> 4) << 3) | (index & 7)));
        var h = Hash(word, seed);
        return ((index >> 3) & 1) == 0 ? h & LowDraw : h >> DrawBits;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Rounded(long index, ulong seed, uint cut) => Draw(index, seed) < cut;

    /// <summary>H(w) = mix(mix(w + k0) ^ k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Hash(uint word, ulong seed) => Mix(Mix(unchecked(word + (uint)seed)) ^ (uint)(seed >> 32));

    /// <summary>
    /// H of the words 8g + j + lane (lane = 0 .. Count - 1) of group g = element / 16, for an
    /// <paramref name="element"/> on a group boundary and a word offset j with j + Count &lt;= 8.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<uint> GroupHash(long element, int j, ulong seed)
    {
        var first = unchecked((uint)((element >> 4) << 3) + (uint)j + (uint)seed);
        return Mix(Mix(new Vector<uint>(first) + Lanes) ^ new Vector<uint>((uint)(seed >> 32)));
    }

    /// <summary>All-ones float lanes where the 16-bit draw is below cut (both below 2^31, so a signed compare).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Below(Vector<uint> draws, uint cut) =>
        Vector.AsVectorSingle(Vector.LessThan(Vector.AsVectorInt32(draws), new Vector<int>((int)cut)));

    private static readonly Vector<uint> Lanes = LaneIndices();

    private static Vector<uint> LaneIndices()
    {
        var lanes = new uint[Vector<uint>.Count];
        for (var i = 0; i < lanes.Length; i++)
        {
            lanes[i] = (uint)i;
        }

        return new Vector<uint>(lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint x)
    {
        unchecked
        {
            x ^= x >> 16;
            x *= 0x7feb352du;
            x ^= x >> 15;
            x *= 0x846ca68bu;
            x ^= x >> 16;
            return x;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<uint> Mix(Vector<uint> x)
    {
        x ^= Vector.ShiftRightLogical(x, 16);
        x *= new Vector<uint>(0x7feb352du);
        x ^= Vector.ShiftRightLogical(x, 15);
        x *= new Vector<uint>(0x846ca68bu);
        x ^= Vector.ShiftRightLogical(x, 16);
        return x;
    }
}
