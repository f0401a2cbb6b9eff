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
    /// <summary>The rate at step <paramref name="step"/> (clamped to [0, S]).</summary>
    /// <param name="step">s, the number of optimisation steps already taken.</param>
    public double RateAt(long step)
    {
        Guard.Positive(InitialRate, nameof(InitialRate));
        Guard.AtLeast(TotalSteps, 1, nameof(TotalSteps), "total optimisation steps");
        var s = Math.Clamp(step, 0, TotalSteps);
        return InitialRate * 0.5 * (1.0 + Math.Cos(Math.PI * s / TotalSteps));
    }
}
