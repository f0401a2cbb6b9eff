namespace Snn.Core.Data;

/// <summary>
/// Finds the folder of a dataset, in this order: (1) an explicit path (the --data option); (2) the environment
/// variable SNN_DATA; (3) the descriptor's system folders (for Fashion-MNIST, the Debian package folder
/// /usr/share/datasets/fashion-mnist). A path in (1) or (2) may be the dataset folder itself or a parent holding
/// it under one of the descriptor's conventional names (fashion-mnist, mnist, cifar-10-batches-bin,
/// cifar-100-binary). Nothing is ever downloaded.
/// </summary>
public static class DatasetLocator
{
    /// <summary>The environment variable consulted after the explicit path.</summary>
    public const string EnvironmentVariable = "SNN_DATA";

    /// <summary>The folder where Debian's dataset-fashion-mnist package puts the four IDX .gz files.</summary>
    public const string DebianFashionMnistFolder = DatasetDescriptor.DebianFashionMnistFolder;

    /// <summary>Finds the dataset folder using the real environment variable and the descriptor's system folders.</summary>
    /// <param name="explicitPath">A path given by the user (e.g. --data), or null/empty to skip step (1).</param>
    /// <param name="dataset">The dataset to find.</param>
    /// <returns>A folder holding the dataset's files (see <see cref="DatasetDescriptor.ExpectedFiles"/>).</returns>
    /// <exception cref="DataFileException">
    /// An explicit or SNN_DATA path that does not hold the dataset, or nothing found; the message says how to get the data.
    /// </exception>
    public static string Locate(string? explicitPath, DatasetDescriptor dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return Locate(explicitPath, dataset, Environment.GetEnvironmentVariable(EnvironmentVariable), dataset.SystemFolders);
    }

    /// <summary>
    /// Finds the dataset folder with the environment value and system folders given explicitly (for tests and
    /// embedding): explicit path, then <paramref name="environmentValue"/>, then each of <paramref name="systemFolders"/>.
    /// </summary>
    /// <param name="explicitPath">A user-given path, or null/empty.</param>
    /// <param name="dataset">The dataset to find.</param>
    /// <param name="environmentValue">The value of SNN_DATA, or null/empty.</param>
    /// <param name="systemFolders">Folders tried last (the descriptor's own are not added).</param>
    public static string Locate(string? explicitPath, DatasetDescriptor dataset, string? environmentValue, IReadOnlyList<string> systemFolders)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(systemFolders);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return Match(explicitPath, dataset)
                ?? throw new DataFileException(explicitPath, $"does not hold {dataset.Title}: expected {dataset.ExpectedFiles}");
        }

        if (!string.IsNullOrEmpty(environmentValue))
        {
            return Match(environmentValue, dataset)
                ?? throw new DataFileException(
                    environmentValue,
                    $"(from {EnvironmentVariable}) does not hold {dataset.Title}: expected {dataset.ExpectedFiles}");
        }

        foreach (var folder in systemFolders)
        {
            if (Match(folder, dataset) is { } found)
            {
                return found;
            }
        }

        throw new DataFileException(systemFolders.Count > 0 ? systemFolders[0] : "(no data path)", $"{Capitalised(dataset.Title)} not found. {HowToGet(dataset)}");
    }

    /// <summary>Instructions for obtaining the data, for error messages.</summary>
    /// <param name="dataset">The dataset.</param>
    public static string HowToGet(DatasetDescriptor dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var pointAt = $"pass --data PATH or set {EnvironmentVariable}=PATH to a folder holding {dataset.ExpectedFiles}";
        return dataset.Install is { } install
            ? $"{install}, or {pointAt}."
            : $"No package ships it here and nothing is downloaded: {pointAt}.";
    }

    private static string Capitalised(string title) => title.Length > 0 ? char.ToUpperInvariant(title[0]) + title[1..] : title;

    private static string? Match(string path, DatasetDescriptor dataset)
    {
        if (Holds(path, dataset))
        {
            return path;
        }

        return dataset.ConventionalFolders.Select(name => Path.Combine(path, name)).FirstOrDefault(nested => Holds(nested, dataset));
    }

    private static bool Holds(string folder, DatasetDescriptor dataset) => Directory.Exists(folder) && dataset.Reader.Holds(folder);
}
