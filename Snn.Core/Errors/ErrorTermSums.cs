namespace Snn.Core.Errors;

/// <summary>
/// Running sums of one error term e over a set of neuron entries: sum |e| and sum e. Divide by the
/// entry count for the mean absolute value and the signed mean. Sums add over batches.
/// </summary>
/// <param name="AbsoluteSum">sum of |e| over the entries, &gt;= 0.</param>
/// <param name="SignedSum">sum of e over the entries.</param>
public readonly record struct ErrorTermSums(double AbsoluteSum, double SignedSum)
{
    /// <summary>Elementwise sum of two running sums (merging two batches).</summary>
    /// <param name="left">Sums over one set of entries.</param>
    /// <param name="right">Sums over a disjoint set of entries.</param>
    public static ErrorTermSums operator +(ErrorTermSums left, ErrorTermSums right) =>
        new(left.AbsoluteSum + right.AbsoluteSum, left.SignedSum + right.SignedSum);

    /// <summary>Elementwise sum of two running sums; the named form of <c>+</c>.</summary>
    /// <param name="other">Sums over a disjoint set of entries.</param>
    public ErrorTermSums Add(ErrorTermSums other) => this + other;

    /// <summary>mean |e| = AbsoluteSum / count; 0 when count = 0.</summary>
    /// <param name="count">The number of entries summed, &gt;= 0.</param>
    public double MeanAbsolute(long count) => count == 0 ? 0.0 : AbsoluteSum / count;

    /// <summary>mean e = SignedSum / count; 0 when count = 0.</summary>
    /// <param name="count">The number of entries summed, &gt;= 0.</param>
    public double SignedMean(long count) => count == 0 ? 0.0 : SignedSum / count;
}
