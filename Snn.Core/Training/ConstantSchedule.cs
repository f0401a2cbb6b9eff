namespace Snn.Core.Training;

/// <summary>Constant learning rate: lr(s) = lr0 for every step s.</summary>
/// <param name="InitialRate">lr0 &gt; 0 and finite.</param>
public sealed record ConstantSchedule(double InitialRate) : ILearningRateSchedule
{
    /// <summary>lr0, whatever the step.</summary>
    /// <param name="step">s &gt;= 0 (not used beyond the range check).</param>
    /// <exception cref="ArgumentException">lr0 not finite and &gt; 0, or s &lt; 0.</exception>
    public double RateAt(long step)
    {
        Guard.Positive(InitialRate, nameof(InitialRate));
        Guard.AtLeast(step, 0, nameof(step), "global step");
        return InitialRate;
    }
}
