namespace Snn.Core.Calibration;

/// <summary>Options of Phase II (PAPER.md): weight calibration's optimiser, early stopping and caching.</summary>
public sealed record CalibrationOptions
{
    /// <summary>Adam learning rate for weight, bias, v(0) and alpha; &gt; 0 (paper: 1e-4).</summary>
    public double LearningRate { get; init; } = 1e-4;

    /// <summary>The most passes over the calibration batches per layer; &gt;= 1.</summary>
    public int MaxEpochs { get; init; } = 5;

    /// <summary>Stop a layer after this many epochs without a lower held-out loss; &gt;= 1.</summary>
    public int Patience { get; init; } = 1;

    /// <summary>
    /// Whether the soft reset's spike is detached in BPTT: v(t) = v(t) - theta * detach(s(t)). True
    /// (the default) keeps dv(t)/dv(t-1) = 1, so gradients neither vanish nor flip sign across steps
    /// (theta * alpha / 2 often exceeds 1); false differentiates the reset through the surrogate too.
    /// </summary>
    public bool DetachReset { get; init; } = true;

    /// <summary>The surrogate slope alpha at the start of each layer's calibration; &gt; 0 (paper: 2.5).</summary>
    public double InitialSlope { get; init; } = Neurons.SurrogateSpike.InitialSlope;

    /// <summary>
    /// Bytes allowed for caching a layer's recorded input spike trains (stored as one byte per spike)
    /// across epochs; above it they are re-simulated every epoch. &gt;= 0.
    /// </summary>
    public long CacheBytes { get; init; } = 1L << 30;

    /// <summary>Validates every field, naming the first out of range.</summary>
    /// <exception cref="ArgumentException">A field out of its valid range.</exception>
    public void Validate()
    {
        Guard.Positive(LearningRate, nameof(LearningRate));
        Guard.AtLeast(MaxEpochs, 1, nameof(MaxEpochs), "epochs");
        Guard.AtLeast(Patience, 1, nameof(Patience), "early-stopping patience");
        Guard.Positive(InitialSlope, nameof(InitialSlope));
        Guard.AtLeast(CacheBytes, 0, nameof(CacheBytes), "cache bytes");
    }
}
