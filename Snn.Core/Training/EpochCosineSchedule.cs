namespace Snn.Core.Training;

/// <summary>
/// Cosine learning-rate schedule stepped once per epoch, as PyTorch's <c>CosineAnnealingLR(T_max = E)</c>
/// stepped after every epoch (the QCFS code's recipe): every step of epoch e (0-based) uses
/// lr(e) = lr0 * (1 + cos(pi * e / E)) / 2, so the first epoch runs at lr0 and the last at
/// lr0 * (1 + cos(pi (E - 1) / E)) / 2 &gt; 0. Over a run it spends more rate than the per-step
/// <see cref="CosineSchedule"/> (the mean over epochs is lr0 (E + 1) / (2E) against lr0 / 2). A pure
/// function of the step, so it resumes exactly after a restart.
/// </summary>
/// <param name="InitialRate">lr0 &gt; 0.</param>
/// <param name="Epochs">E &gt;= 1, the epochs of the run.</param>
/// <param name="StepsPerEpoch">B &gt;= 1, optimisation steps per epoch; step s is in epoch floor(s / B).</param>
public sealed record EpochCosineSchedule(double InitialRate, int Epochs, long StepsPerEpoch) : ILearningRateSchedule
{
    /// <summary>The rate at step <paramref name="step"/>; steps past the last epoch keep the last epoch's rate.</summary>
    /// <param name="step">s &gt;= 0, the number of optimisation steps already taken.</param>
    /// <exception cref="ArgumentException">lr0 not finite and &gt; 0, E &lt; 1, B &lt; 1, or s &lt; 0.</exception>
    public double RateAt(long step)
    {
        Guard.Positive(InitialRate, nameof(InitialRate));
        Guard.AtLeast(Epochs, 1, nameof(Epochs), "epochs");
        Guard.AtLeast(StepsPerEpoch, 1, nameof(StepsPerEpoch), "steps per epoch");
        Guard.AtLeast(step, 0, nameof(step), "global step");
        var epoch = Math.Min(step / StepsPerEpoch, Epochs - 1L);
        return InitialRate * 0.5 * (1.0 + Math.Cos(Math.PI * epoch / Epochs));
    }
}
