namespace Snn.Core.Errors;

/// <summary>
/// Per-layer summary of the error decomposition over a set of entries (samples x neurons), kept as
/// sums and counts so that summaries of batches merge exactly: <c>Merge</c> (or <c>+</c>) of the summaries
/// of two disjoint batches equals the summary of their union (up to floating-point addition order).
/// <para>
/// With z the mean input, r the output rate, theta the threshold, T the time steps and v(0), v(T) the
/// initial and final potentials of each entry:
/// Residual = r - QC_T(z), Quantization = QC_T(z) - clip(z), Clipping = clip(z) - ReLU(z),
/// Total = r - ReLU(z) = Residual + Quantization + Clipping; an entry is Negative when v(T) &lt; 0 and
/// Overflowing when v(T) &gt;= theta; the identity deviation is |r - z - (v(0) - v(T)) / T|, which is 0 in
/// exact arithmetic and measures floating-point rounding of the simulation.
/// </para>
/// </summary>
/// <param name="Count">Number of entries summed (samples x neurons), &gt;= 0.</param>
/// <param name="Residual">Sums of the residual term r - QC_T(z).</param>
/// <param name="Quantization">Sums of the quantization term QC_T(z) - clip(z).</param>
/// <param name="Clipping">Sums of the clipping term clip(z) - ReLU(z).</param>
/// <param name="Total">Sums of r - ReLU(z).</param>
/// <param name="NegativeCount">Entries with v(T) &lt; 0, in [0, Count].</param>
/// <param name="OverflowCount">Entries with v(T) &gt;= theta, in [0, Count].</param>
/// <param name="MaxIdentityDeviation">max over entries of |r - z - (v(0) - v(T)) / T|, &gt;= 0.</param>
public sealed record LayerErrorSummary(
    long Count,
    ErrorTermSums Residual,
    ErrorTermSums Quantization,
    ErrorTermSums Clipping,
    ErrorTermSums Total,
    long NegativeCount,
    long OverflowCount,
    double MaxIdentityDeviation)
{
    /// <summary>The summary of no entries: the neutral element of <see cref="Merge"/>.</summary>
    public static LayerErrorSummary Empty { get; } = new(0, default, default, default, default, 0, 0, 0.0);

    /// <summary>mean |r - QC_T(z)| over the entries (0 when there are none).</summary>
    public double MeanAbsoluteResidual => Residual.MeanAbsolute(Count);

    /// <summary>mean (r - QC_T(z)) over the entries (0 when there are none).</summary>
    public double SignedMeanResidual => Residual.SignedMean(Count);

    /// <summary>mean |QC_T(z) - clip(z)| over the entries, in [0, theta / (2T)].</summary>
    public double MeanAbsoluteQuantization => Quantization.MeanAbsolute(Count);

    /// <summary>mean (QC_T(z) - clip(z)) over the entries.</summary>
    public double SignedMeanQuantization => Quantization.SignedMean(Count);

    /// <summary>mean |clip(z) - ReLU(z)| over the entries, &gt;= 0.</summary>
    public double MeanAbsoluteClipping => Clipping.MeanAbsolute(Count);

    /// <summary>mean (clip(z) - ReLU(z)) over the entries, &lt;= 0.</summary>
    public double SignedMeanClipping => Clipping.SignedMean(Count);

    /// <summary>mean |r - ReLU(z)| over the entries: the whole ANN-SNN gap of the layer.</summary>
    public double MeanAbsoluteTotal => Total.MeanAbsolute(Count);

    /// <summary>mean (r - ReLU(z)) over the entries.</summary>
    public double SignedMeanTotal => Total.SignedMean(Count);

    /// <summary>Share of entries with negative final potential v(T) &lt; 0, in [0, 1] (0 when there are none).</summary>
    public double NegativeShare => Count == 0 ? 0.0 : (double)NegativeCount / Count;

    /// <summary>Share of entries with overflowing final potential v(T) &gt;= theta, in [0, 1] (0 when there are none).</summary>
    public double OverflowShare => Count == 0 ? 0.0 : (double)OverflowCount / Count;

    /// <summary>The summary of the union of two disjoint sets of entries: sums and counts add, the maximum deviation is the larger one.</summary>
    /// <param name="other">The summary of another batch of the same layer.</param>
    public LayerErrorSummary Merge(LayerErrorSummary other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new LayerErrorSummary(
            Count + other.Count,
            Residual + other.Residual,
            Quantization + other.Quantization,
            Clipping + other.Clipping,
            Total + other.Total,
            NegativeCount + other.NegativeCount,
            OverflowCount + other.OverflowCount,
            Math.Max(MaxIdentityDeviation, other.MaxIdentityDeviation));
    }

    /// <summary>The same as <see cref="Merge"/>.</summary>
    /// <param name="left">The summary of one batch.</param>
    /// <param name="right">The summary of another batch of the same layer.</param>
    public static LayerErrorSummary operator +(LayerErrorSummary left, LayerErrorSummary right)
    {
        ArgumentNullException.ThrowIfNull(left);
        return left.Merge(right);
    }
}
