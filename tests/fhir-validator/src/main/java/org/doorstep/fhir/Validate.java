package org.doorstep.fhir;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import java.io.IOException;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.PrePopulatedValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.instance.model.api.IBaseResource;

/**
 * Validates every {@code *.json} file of a directory as FHIR R4 with the HL7 UK Core 2.0.0
 * conformance resources (profiles, extensions, value sets, code systems) loaded, offline.
 *
 * <p>Usage: {@code java -jar fhir-validator.jar DIR [--ukcore UKCORE_DIR] [--conformance
 * JSON_DIR]} (the latter: the publisher's own Questionnaires and CodeSystems). Without
 * {@code --ukcore}, the conformance resources are {@code $DOORSTEP_FHIR_DIR/ukcore} if that
 * variable is set, else {@code ../shared/fhir/ukcore} beside the repository this jar was built
 * in (the repository root's parent's {@code shared/fhir}, as CI lays it out).
 *
 * <p>Each file is validated as raw text (never parsed and re-serialised first: the parser drops
 * elements it does not know, silently). Every issue is printed as {@code file: SEVERITY
 * location: message}; the last line is the summary. Exit status: 0 when no file has an error,
 * 1 when any has, 2 when the input is unusable (no directory, no JSON files, no conformance
 * resources).
 */
public final class Validate {
  private Validate() {}

  public static void main(String[] args) throws Exception {
    Path dir = null;
    Path ukcore = null;
    Path conformance = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--ukcore") && i + 1 < args.length) {
        ukcore = Paths.get(args[++i]);
      } else if (args[i].equals("--conformance") && i + 1 < args.length) {
        conformance = Paths.get(args[++i]);
      } else if (dir == null) {
        dir = Paths.get(args[i]);
      } else {
        usage("unexpected argument " + args[i]);
      }
    }
    if (dir == null) {
      usage("name the directory of JSON files to validate");
    }
    if (!Files.isDirectory(dir)) {
      usage(dir + " is not a directory");
    }
    if (ukcore == null) {
      ukcore = defaultUkCore();
    }
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
    }
    if (files.isEmpty()) {
      usage("no *.json file in " + dir + ": nothing was validated");
    }

    FhirContext ctx = FhirContext.forR4();
    long t0 = System.nanoTime();
    PrePopulatedValidationSupport ukCoreSupport = loadConformance(ctx, ukcore);
    Map<String, IBaseResource> questionnaires = new TreeMap<>();
    if (conformance != null) {
      loadJson(ctx, ukCoreSupport, questionnaires, conformance);
    }
    long t1 = System.nanoTime();
    ValidationSupportChain chain =
        new ValidationSupportChain(
            new DefaultProfileValidationSupport(ctx),
            ukCoreSupport,
            new QuestionnaireSupport(ctx, questionnaires),
            new InMemoryTerminologyServerValidationSupport(ctx),
            new CommonCodeSystemsTerminologyService(ctx),
            new SnapshotGeneratingValidationSupport(ctx));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    // A profile named in meta.profile that is not loaded is an error, not a silent pass.
    module.setErrorForUnknownProfiles(true);
    FhirValidator validator = ctx.newValidator();
    validator.registerValidatorModule(module);

    int errors = 0;
    int warnings = 0;
    int information = 0;
    int filesWithErrors = 0;
    Map<String, Integer> warningKinds = new TreeMap<>();
    for (Path f : files) {
      String text = Files.readString(f, StandardCharsets.UTF_8);
      ValidationResult result = validator.validateWithResult(text);
      int fileErrors = 0;
      for (SingleValidationMessage m : result.getMessages()) {
        ResultSeverityEnum sev = m.getSeverity();
        String where = m.getLocationString() == null ? "" : m.getLocationString();
        if (m.getLocationLine() != null) {
          where += " (line " + m.getLocationLine() + ")";
        }
        System.out.println(f.getFileName() + ": " + sev.name() + " " + where + ": " + m.getMessage());
        switch (sev) {
          case ERROR, FATAL -> fileErrors++;
          case WARNING -> {
            warnings++;
            warningKinds.merge(m.getMessageId() == null ? "(no id)" : m.getMessageId(), 1, Integer::sum);
          }
          default -> information++;
        }
      }
      errors += fileErrors;
      if (fileErrors > 0) {
        filesWithErrors++;
      }
    }
    long t2 = System.nanoTime();
    for (Map.Entry<String, Integer> e : warningKinds.entrySet()) {
      System.out.println("warnings of kind " + e.getKey() + ": " + e.getValue());
    }
    System.out.printf(
        "validated %d files against FHIR R4 + UK Core (%d conformance resources loaded in %.1f s,"
            + " validation %.1f s): %d errors in %d files, %d warnings, %d information%n",
        files.size(),
        ukCoreSupport.fetchAllConformanceResources().size(),
        (t1 - t0) / 1e9,
        (t2 - t1) / 1e9,
        errors,
        filesWithErrors,
        warnings,
        information);
    System.exit(errors > 0 ? 1 : 0);
  }

  /**
   * Every JSON file of {@code dir} (the publisher's own Questionnaires and CodeSystems) added to
   * the conformance resources, so the resources that name them are checked against them.
   */
  private static void loadJson(
      FhirContext ctx,
      PrePopulatedValidationSupport support,
      Map<String, IBaseResource> questionnaires,
      Path dir)
      throws IOException {
    if (!Files.isDirectory(dir)) {
      usage(dir + " (--conformance) is not a directory");
    }
    IParser json = ctx.newJsonParser();
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
    }
    for (Path p : files) {
      try (Reader r = Files.newBufferedReader(p, StandardCharsets.UTF_8)) {
        IBaseResource res = json.parseResource(r);
        if (res instanceof org.hl7.fhir.r4.model.Questionnaire q) {
          // Found by its canonical, with and without the version.
          questionnaires.put(q.getUrl(), q);
          questionnaires.put(q.getUrl() + "|" + q.getVersion(), q);
        } else {
          support.addResource(res);
        }
      }
    }
  }

  /** Every XML file of the three conformance folders, parsed with the R4 XML parser. */
  private static PrePopulatedValidationSupport loadConformance(FhirContext ctx, Path ukcore)
      throws IOException {
    PrePopulatedValidationSupport support = new PrePopulatedValidationSupport(ctx);
    IParser xml = ctx.newXmlParser();
    int loaded = 0;
    for (String folder : new String[] {"structuredefinitions", "valuesets", "codesystems"}) {
      Path d = ukcore.resolve(folder);
      if (!Files.isDirectory(d)) {
        usage("no UK Core conformance folder " + d + " (set DOORSTEP_FHIR_DIR to the shared/fhir folder)");
      }
      List<Path> xmls;
      try (Stream<Path> s = Files.list(d)) {
        xmls = s.filter(p -> p.getFileName().toString().endsWith(".xml")).sorted().toList();
      }
      for (Path p : xmls) {
        try (Reader r = Files.newBufferedReader(p, StandardCharsets.UTF_8)) {
          IBaseResource res = xml.parseResource(r);
          support.addResource(res);
          loaded++;
        }
      }
    }
    if (loaded == 0) {
      usage("no conformance resources under " + ukcore);
    }
    return support;
  }

  /**
   * {@code $DOORSTEP_FHIR_DIR/ukcore}, else the repository root's parent's {@code
   * shared/fhir/ukcore}; the root is found from this jar (tests/fhir-validator/target/...).
   */
  private static Path defaultUkCore() throws URISyntaxException {
    String env = System.getenv("DOORSTEP_FHIR_DIR");
    if (env != null && !env.isEmpty()) {
      return Paths.get(env).resolve("ukcore");
    }
    Path here =
        Paths.get(Validate.class.getProtectionDomain().getCodeSource().getLocation().toURI())
            .toAbsolutePath();
    List<Path> tried = new ArrayList<>();
    for (Path p = here; p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("Cargo.toml")) && Files.isDirectory(p.resolve("tests/fhir-validator"))) {
        Path shared = p.getParent().resolve("shared/fhir/ukcore");
        if (Files.isDirectory(shared)) {
          return shared;
        }
        tried.add(shared);
        break;
      }
    }
    usage(
        "cannot find the UK Core conformance resources (tried "
            + tried
            + "); set DOORSTEP_FHIR_DIR to the shared/fhir folder or pass --ukcore DIR");
    return null;
  }

  private static void usage(String why) {
    System.err.println("fhir-validator: " + why);
    System.err.println("usage: java -jar fhir-validator.jar DIR [--ukcore UKCORE_DIR] [--conformance JSON_DIR]");
    System.exit(2);
  }

  /**
   * Serves the publisher's Questionnaires by canonical URL, so every QuestionnaireResponse is
   * validated against the Questionnaire it names (PrePopulatedValidationSupport holds only
   * StructureDefinitions, CodeSystems, ValueSets and SearchParameters).
   */
  private static final class QuestionnaireSupport
      implements ca.uhn.fhir.context.support.IValidationSupport {
    private final FhirContext ctx;
    private final Map<String, IBaseResource> byUrl;

    QuestionnaireSupport(FhirContext ctx, Map<String, IBaseResource> byUrl) {
      this.ctx = ctx;
      this.byUrl = byUrl;
    }

    @Override
    public FhirContext getFhirContext() {
      return ctx;
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends IBaseResource> T fetchResource(Class<T> type, String url) {
      IBaseResource r = byUrl.get(url);
      if (r != null && (type == null || type.isInstance(r))) {
        return (T) r;
      }
      return null;
    }
  }
}
