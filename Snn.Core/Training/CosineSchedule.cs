namespace Snn.Core.Training;

/// <summary>
/// Cosine learning-rate schedule without restarts, evaluated per optimisation step:
/// lr(s) = lr0 * (1 + cos(pi * s / S)) / 2 for step s in [0, S], where S is the total number of
/// steps of the run. Being a pure function of the step, it resumes exactly after a restart.
/// </summary>
/// <param name="InitialRate">lr0 &gt; 0.</param>
/// <param name="TotalSteps">S &gt;= 1: epochs x batches per epoch.</param>
public sealed record CosineSchedule(double InitialRate, long TotalSteps) : ILearningRateSchedule
{
    /// <summary>The rate at step <paramref name="step"/>; steps past S give lr(S) = 0.</summary>
    /// <param name="step">s &gt;= 0, the number of optimisation steps already taken.</param>
    /// <exception cref="ArgumentException">lr0 not finite and &gt; 0, S &lt; 1, or s &lt; 0.</exception>
    public double RateAt(long step)
    {
        Guard.Positive(InitialRate, nameof(InitialRate));
        Guard.AtLeast(TotalSteps, 1, nameof(TotalSteps), "total optimisation steps");
        Guard.AtLeast(step, 0, nameof(step), "global step");
        var s = Math.Min(step, TotalSteps);
        return InitialRate * 0.5 * (1.0 + Math.Cos(Math.PI * s / TotalSteps));
    }
}
