using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;
using System.Xml.Linq;

namespace Accelerate.Sdk.Tests;

/// <summary>What each package of the feed <see cref="PackageFeed"/> packed carries besides its code: README, license, symbols with their sources; which package ships the build tasks.</summary>
[TestClass]
public sealed class PackageContentsTests
{
    [TestMethod]
    [DataRow("Accelerate.Sdk")]
    [DataRow("Accelerate.Runtime")]
    [DataRow("Accelerate.Build.Tasks")]
    [DataRow("Accelerate.Templates")]
    [DataRow("Accelerate.Cli")]
    public void Every_package_carries_its_readme_and_declares_the_license_of_the_repository(string id)
    {
        using var package = Open(id);
        var metadata = Nuspec(package);

        Assert.AreEqual("README.md", Element(metadata, "readme")?.Value, "nuspec readme");
        Assert.IsNotNull(package.GetEntry("README.md"), "README.md in the package");
        var license = Element(metadata, "license");
        Assert.AreEqual("expression", license?.Attribute("type")?.Value);
        Assert.AreEqual("MIT", license?.Value);
        StringAssert.StartsWith(File.ReadAllText(Path.Combine(PackageFeed.RepoRoot, "LICENSE")), "MIT License", "the LICENSE file matches the expression");
    }

    [TestMethod]
    [DataRow("Accelerate.Runtime", "lib/net10.0/Accelerate.Runtime.dll")]
    [DataRow("Accelerate.Runtime", "analyzers/dotnet/cs/Accelerate.Generators.dll")]
    [DataRow("Accelerate.Build.Tasks", "tasks/net10.0/Accelerate.Build.Tasks.dll")]
    [DataRow("Accelerate.Sdk", "tools/launcher/accelerate.dll")]
    [DataRow("Accelerate.Cli", "tools/net10.0/any/accelerate.dll")]
    public void Every_shipped_assembly_embeds_its_symbols_and_is_built_deterministically(string id, string path)
    {
        using var package = Open(id);
        using var pe = new PEReader(ReadEntry(package, id, path));

        var debug = pe.ReadDebugDirectory();
        Assert.IsTrue(debug.Any(d => d.Type == DebugDirectoryEntryType.EmbeddedPortablePdb), $"{path} carries no embedded PDB");
        Assert.IsTrue(debug.Any(d => d.Type == DebugDirectoryEntryType.Reproducible), $"{path} is not a deterministic build");
        using var pdb = pe.ReadEmbeddedPortablePdbDebugDirectoryData(debug.First(d => d.Type == DebugDirectoryEntryType.EmbeddedPortablePdb));
        Assert.IsGreaterThan(0, pdb.GetMetadataReader().Documents.Count, $"{path}'s PDB names no source document");
    }

    [TestMethod]
    [DataRow("Accelerate.Runtime", "lib/net10.0/Accelerate.Runtime.dll", "Training/Accelerator.cs", "public partial class Accelerator")]
    [DataRow("Accelerate.Runtime", "analyzers/dotnet/cs/Accelerate.Generators.dll", "TrainingFunctionGenerator.cs", "class TrainingFunctionGenerator")]
    [DataRow("Accelerate.Build.Tasks", "tasks/net10.0/Accelerate.Build.Tasks.dll", "Validation/ValidateLaunchSettings.cs", "class ValidateLaunchSettings")]
    [DataRow("Accelerate.Sdk", "tools/launcher/accelerate.dll", "Launch/MachineLink.cs", "class MachineLink")]
    public void Every_shipped_assembly_embeds_its_sources_so_a_debugger_steps_into_them_offline(string id, string path, string document, string declaration)
    {
        using var package = Open(id);
        using var pe = new PEReader(ReadEntry(package, id, path));
        var debug = pe.ReadDebugDirectory();
        using var pdbProvider = pe.ReadEmbeddedPortablePdbDebugDirectoryData(debug.First(d => d.Type == DebugDirectoryEntryType.EmbeddedPortablePdb));
        var pdb = pdbProvider.GetMetadataReader();

        var sources = pdb.Documents.Select(handle => (Name: pdb.GetString(pdb.GetDocument(handle).Name), Text: EmbeddedSource(pdb, handle))).ToList();
        var missing = sources.Where(s => s.Text is null).Select(s => s.Name).ToList();
        Assert.IsEmpty(missing, $"{path}'s PDB names documents without embedding them: {string.Join(", ", missing)}");
        var wanted = sources.Where(s => s.Name.Replace('\\', '/').EndsWith("/" + document, StringComparison.Ordinal)).ToList();
        Assert.HasCount(1, wanted, $"{path}'s PDB documents: {string.Join(", ", sources.Select(s => s.Name))}");
        StringAssert.Contains(wanted[0].Text, declaration, $"the source of {document} embedded in {path}");
    }

    [TestMethod]
    public void The_build_tasks_assembly_ships_in_one_package_which_the_runtime_depends_on()
    {
        // Only this suite's version: other test classes pack variants (e.g. the native launcher's) into the same feed.
        var packages = Directory.EnumerateFiles(PackageFeed.FeedDirectory, $"*.{PackageFeed.Version}.nupkg").ToList();
        var carriers = new List<string>();
        foreach (var file in packages)
        {
            using var package = ZipFile.OpenRead(file);
            carriers.AddRange(package.Entries.Where(e => e.Name == "Accelerate.Build.Tasks.dll").Select(e => $"{Path.GetFileName(file)}:{e.FullName}"));
        }
        Assert.HasCount(PackageFeed.PackedProjects.Length, packages, "every packed project is in the feed");
        CollectionAssert.AreEqual(new[] { $"Accelerate.Build.Tasks.{PackageFeed.Version}.nupkg:tasks/net10.0/Accelerate.Build.Tasks.dll" }, carriers, string.Join(", ", carriers));

        using var runtime = Open("Accelerate.Runtime");
        var dependencies = Nuspec(runtime).Descendants().Where(e => e.Name.LocalName == "dependency").ToList();
        var tasks = dependencies.SingleOrDefault(d => d.Attribute("id")?.Value == "Accelerate.Build.Tasks");
        Assert.IsNotNull(tasks, $"Accelerate.Runtime does not depend on Accelerate.Build.Tasks: {string.Join(", ", dependencies.Select(d => d.Attribute("id")?.Value))}");
        Assert.AreEqual(PackageFeed.Version, tasks.Attribute("version")?.Value);
        var excluded = (tasks.Attribute("exclude")?.Value ?? "").Split(',', StringSplitOptions.TrimEntries);
        Assert.IsFalse(excluded.Any(e => e.Equals("All", StringComparison.OrdinalIgnoreCase) || e.Equals("BuildTransitive", StringComparison.OrdinalIgnoreCase)),
            $"its props, which point at the tasks, must reach the runtime's consumers (exclude=\"{string.Join(',', excluded)}\")");
    }

    /// <summary>The text a PDB embeds for a document (Portable PDB's EmbeddedSource: a 4-byte size, deflated unless it is 0), or null.</summary>
    private static string? EmbeddedSource(MetadataReader pdb, DocumentHandle document)
    {
        var embeddedSource = new Guid("0E8A571B-6926-466E-B4AD-8AB04611F5FE");
        foreach (var handle in pdb.GetCustomDebugInformation(document))
        {
            var information = pdb.GetCustomDebugInformation(handle);
            if (pdb.GetGuid(information.Kind) != embeddedSource) continue;
            var blob = pdb.GetBlobBytes(information.Value);
            var size = BitConverter.ToInt32(blob, 0);
            if (size == 0) return Encoding.UTF8.GetString(blob, 4, blob.Length - 4);
            using var inflated = new DeflateStream(new MemoryStream(blob, 4, blob.Length - 4), CompressionMode.Decompress);
            using var reader = new StreamReader(inflated, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        return null;
    }

    private static MemoryStream ReadEntry(ZipArchive package, string id, string path)
    {
        var entry = package.GetEntry(path) ?? throw new AssertFailedException($"{id} has no {path}: {string.Join(", ", package.Entries.Select(e => e.FullName))}");
        var image = new MemoryStream();
        using (var stream = entry.Open()) stream.CopyTo(image);
        image.Position = 0;
        return image;
    }

    private static ZipArchive Open(string id)
    {
        var file = Path.Combine(PackageFeed.FeedDirectory, $"{id}.{PackageFeed.Version}.nupkg");
        Assert.IsTrue(File.Exists(file), $"{file} was not packed");
        return ZipFile.OpenRead(file);
    }

    private static XElement Nuspec(ZipArchive package)
    {
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = entry.Open();
        return XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static XElement? Element(XElement metadata, string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name);
}
