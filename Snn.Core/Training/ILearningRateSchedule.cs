namespace Snn.Core.Training;

/// <summary>
/// A learning rate per optimisation step: a pure function of the global step s, so a resumed run
/// continues with exactly the rates an uninterrupted run would use.
/// </summary>
public interface ILearningRateSchedule
{
    /// <summary>The rate lr(s) &gt; 0 at global step <paramref name="step"/> (s &gt;= 0).</summary>
    /// <param name="step">s, the number of optimisation steps already taken.</param>
    double RateAt(long step);
}
